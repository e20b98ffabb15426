from pathlib import Path

import pytest

from fairness_audit.config import default_config_text, load_config, parse_config
from fairness_audit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_packaged_default_is_the_repository_default():
    assert (REPO / "configs" / "default.yaml").read_text() == default_config_text()


def test_default_plan_loads_and_names_models():
    config = load_config()
    for hyp in config.hypotheses.values():
        for test in hyp.tests:
            assert test.model in config.models or test.model in config.analyses
            assert test.sesoi > 0 and len(test.sesoi_reason) > 20


def test_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"key 'window.start'"):
        parse_config({"window": {"start": "not a date"}})
    with pytest.raises(ConfigError, match=r"key 'features.completions'"):
        parse_config({"features": {"completions": "some"}})
    with pytest.raises(ConfigError, match="names model 'nope'"):
        parse_config({"hypotheses": {"H2": {"tests": [{
            "id": "x", "role": "primary", "model": "nope", "term": "t", "concern_sign": -1,
            "sesoi": 0.1, "sesoi_reason": "r"}]}}})
    with pytest.raises(ConfigError, match=r"key 'models.H2'.*'asylum_only', which is not a sample "
                                          r"filter; expected one of \[.*'no_asylum_application'"):
        parse_config({"models": {"H2": {"family": "logit", "outcome": "granted",
                                        "terms": ["post_policy:quota_shortfall"],
                                        "sample": ["asylum_only"]}}})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
