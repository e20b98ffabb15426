# Reference wild cluster bootstrap for tests/test_wild_bootstrap.py: the restricted wild cluster
# bootstrap (WCR) of H1, H5 and H2's linear probability version, as a plain loop over the
# replicates in base R (no package): each replicate's outcome is built, the full model with every
# fixed effect as factor dummies is fitted to it by least squares, and its t statistic computed.
# Inputs: the committed *_input.csv of tests/reference/ and the Webb weights that the audit draws
# (wild_<case>_weights.csv, written by tests/reference/draw_wild_weights.py: one row per
# replicate, one column per judge, a code c for the weight sign(c) x sqrt(|c| / 2)).
#
#   Rscript tests/reference/wild_bootstrap.R tests/reference tests/reference
#
# (first argument: the folder of the inputs and weights; second: where to write the output)
#
# For each case:
#   1. the restricted model (the tested term left out) by least squares: fitted values y_r and
#      residuals u;
#   2. for each replicate b, y* = y_r + u x v_b[judge], refitted with every regressor and dummy;
#   3. t = estimate / sqrt(G / (G - 1) x sum over judges of (sum of a_i e_i)^2), where e are
#      the refit's residuals and a = Z (Z'Z)^-1 picks the tested coefficient (CRV1 by judge;
#      the (n - 1) / (n - k) factor is left out, as in the audit: it cannot change p);
#   4. p = (1 + #{|t*| >= |t|}) / (B + 1).
# H1 is fitted here on the decisions; the audit bootstraps it on cell means.
#
# Output: wild_r_output.csv (case, term, n_obs, n_clusters, reps, statistic, p_value) and
# wild_r_draws.csv (case, replicate, t), numbers with 17 significant digits.
args <- commandArgs(trailingOnly = TRUE)
indir <- if (length(args) >= 1) args[1] else "tests/reference"
outdir <- if (length(args) >= 2) args[2] else indir

read_input <- function(name) {
  d <- read.csv(file.path(indir, name), stringsAsFactors = FALSE,
                colClasses = c(judge_id = "character"))
  if ("calendar_month" %in% names(d)) d$court_month <- paste(d$court_id, d$calendar_month)
  if ("quarter" %in% names(d)) d$court_quarter <- paste(d$court_id, d$quarter)
  d
}

webb <- function(code) sign(code) * sqrt(abs(code) / 2)

wild <- function(case, d, outcome, regressors, fes, tested) {
  y <- d[[outcome]]
  dummies <- model.matrix(as.formula(paste("~", paste0("factor(", fes, ")", collapse = " + "))),
                          data = d)
  Z <- cbind(as.matrix(regressors), dummies)
  # the independent columns: with judges nested in courts, one judge dummy per court is
  # redundant beside the court x month dummies (qr's pivoting moves such columns to the end)
  q <- qr(Z)
  Z <- Z[, sort(q$pivot[seq_len(q$rank)]), drop = FALSE]
  j <- match(tested, colnames(Z))
  full <- qr(Z)
  a <- drop(Z %*% solve(crossprod(Z))[, j])
  restricted <- qr(Z[, -j, drop = FALSE])
  u <- qr.resid(restricted, y)
  y_r <- y - u
  judges <- d$judge_id
  G <- length(unique(judges))
  t_of <- function(ys) {
    e <- qr.resid(full, ys)
    scores <- rowsum(a * e, judges)
    unname(qr.coef(full, ys)[j]) / sqrt(G / (G - 1) * sum(scores^2))
  }
  codes <- as.matrix(read.csv(file.path(indir, paste0("wild_", case, "_weights.csv")),
                              check.names = FALSE))
  stopifnot(setequal(colnames(codes), unique(judges)))
  column <- match(judges, colnames(codes))
  t0 <- t_of(y)
  draws <- vapply(seq_len(nrow(codes)), function(b) t_of(y_r + u * webb(codes[b, column])), 0)
  p <- (1 + sum(abs(draws) >= abs(t0))) / (length(draws) + 1)
  list(summary = data.frame(case = case, term = gsub("__", ":", tested), n_obs = length(y),
                            n_clusters = G, reps = length(draws),
                            statistic = sprintf("%.17g", t0), p_value = sprintf("%.17g", p)),
       draws = data.frame(case = case, replicate = seq_along(draws),
                          t = sprintf("%.17g", draws)))
}

results <- list()

# H1: log_duration ~ post_policy:pre_policy_gap | judge_id + court_id x quarter
d <- read_input("h1_input.csv")
x <- data.frame(post_policy__pre_policy_gap = d$post_policy * d$pre_policy_gap)
results[["h1"]] <- wild("h1", d, "log_duration", x, c("judge_id", "court_quarter"),
                        "post_policy__pre_policy_gap")

# H5: granted ~ unrepresented + post_policy:unrepresented + X | F
d <- read_input("h5_input.csv")
x <- data.frame(unrepresented = d$unrepresented,
                post_policy__unrepresented = d$post_policy * d$unrepresented,
                detained = d$detained, juvenile = d$juvenile,
                asylum_application = d$asylum_application)
results[["h5"]] <- wild("h5", d, "granted", x,
                        c("judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"),
                        "post_policy__unrepresented")

# H2's linear probability version: granted ~ quota_shortfall + post_policy:quota_shortfall + X | Fc
d <- read_input("h2_court_month_input.csv")
x <- data.frame(quota_shortfall = d$quota_shortfall,
                post_policy__quota_shortfall = d$post_policy * d$quota_shortfall,
                represented = d$represented, detained = d$detained, juvenile = d$juvenile,
                asylum_application = d$asylum_application)
results[["h2_lpm"]] <- wild("h2_lpm", d, "granted", x,
                            c("judge_id", "court_month", "nationality", "case_type"),
                            "post_policy__quota_shortfall")

write.csv(do.call(rbind, lapply(results, `[[`, "summary")), file.path(outdir, "wild_r_output.csv"),
          row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, lapply(results, `[[`, "draws")), file.path(outdir, "wild_r_draws.csv"),
          row.names = FALSE, quote = FALSE)
cat(sprintf("R %s\n", getRversion()))
