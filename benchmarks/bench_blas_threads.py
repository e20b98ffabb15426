"""Benchmark: why CR2's per-judge loop runs with one BLAS thread (models/bias_reduced.py).

CR2 takes, for every judge, the eigen-decomposition of a few hundred columns. On an idle
machine one BLAS thread and two take about as long at that size; beside other busy processes
(the validation harness's workers, a second audit) OpenBLAS's threads wait on each other. This
script times ``numpy.linalg.eigh`` of a symmetric matrix of ``--size`` columns with one thread
and with the library's default, first on the machine as it is and then while ``--busy``
processes spin on the cores, and prints the medians.

    python benchmarks/bench_blas_threads.py                 # 400 columns, two busy processes
    python benchmarks/bench_blas_threads.py --size 200 --busy 1
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def _spin(stop: mp.Event) -> None:
    """Keep the cores busy as another audit would: matrix products with the library's own
    BLAS threads, until told to stop."""
    a = np.random.default_rng(1).standard_normal((300, 300))
    while not stop.is_set():
        a = a @ a
        a /= np.abs(a).max()


def _median_seconds(matrix: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.linalg.eigh(matrix)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _both(matrix: np.ndarray, repeats: int) -> tuple[float, float]:
    with threadpool_limits(limits=1, user_api="blas"):
        one = _median_seconds(matrix, repeats)
    return one, _median_seconds(matrix, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="columns of the matrix")
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the timing")
    parser.add_argument("--repeats", type=int, default=15, help="timings per setting (median)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.size, args.size))
    matrix = a @ a.T
    threads = [p.get("num_threads") for p in threadpool_info() if p.get("user_api") == "blas"]
    print(f"eigh of {args.size} columns; BLAS threads by default: {threads}")

    one, default = _both(matrix, args.repeats)
    print(f"as the machine is:      one thread {one:.4f} s, default {default:.4f} s "
          f"({default / one:.1f} times)")
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        time.sleep(1)
        one, default = _both(matrix, args.repeats)
    finally:
        stop.set()
        for p in spinners:
            p.join()
    print(f"beside {args.busy} busy process(es): one thread {one:.4f} s, default {default:.4f} s "
          f"({default / one:.1f} times)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
