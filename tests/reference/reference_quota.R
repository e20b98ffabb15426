# Reference fit for tests/test_reference_r_quota.py: the first stage's pooled
# difference-in-differences on the judge x quarter panel, with base R only.
#
#   Rscript tests/reference/reference_quota.R tests/reference tests/reference
#
# (first argument: the folder of first_stage_input.csv; second: where to write
# first_stage_r_output.csv). Input drawn by tests/reference/draw_quota_input.py.
#
# Model: completions ~ post_policy:pre_policy_gap | judge_id + court_id x quarter, as lm with
# every fixed effect as factor dummies. Standard error: CRV3, the leave-one-judge-out jackknife,
# as an explicit loop over judges with the scaling of fairness_audit/models/jackknife.py:
# V = (G - 1) / G x sum over judges g of (b_(-g) - b)^2, b the estimate on every judge, b_(-g)
# the estimate without judge g (deviations from b, not from the mean of the b_(-g)).
#
# Output columns: model, term, estimate, std_error, n_obs (rows fitted), k (coefficients
# estimated, aliased ones left out), n_aliased, n_clusters (judges).
args <- commandArgs(trailingOnly = TRUE)
indir <- if (length(args) >= 1) args[1] else "tests/reference"
outdir <- if (length(args) >= 2) args[2] else indir

d <- read.csv(file.path(indir, "first_stage_input.csv"), stringsAsFactors = FALSE,
              colClasses = c(judge_id = "character", court_id = "character", quarter = "character"))
d$court_quarter <- paste(d$court_id, d$quarter)
d$post_policy__pre_policy_gap <- d$post_policy * d$pre_policy_gap
term <- "post_policy__pre_policy_gap"
f <- completions ~ post_policy__pre_policy_gap + factor(judge_id) + factor(court_quarter)
m <- lm(f, data = d)
judges <- sort(unique(d$judge_id))
G <- length(judges)
# factor() inside the formula takes its levels from each subsample: no empty dummy columns
b_minus <- vapply(judges, function(j) unname(coef(lm(f, data = d[d$judge_id != j, ]))[term]), 0)
V <- (G - 1) / G * sum((b_minus - coef(m)[term])^2)
b <- coef(m)
out <- data.frame(model = "first_stage_crv3", term = "post_policy:pre_policy_gap",
                  estimate = unname(b[term]), std_error = sqrt(V), n_obs = nobs(m),
                  k = sum(!is.na(b)), n_aliased = sum(is.na(b)), n_clusters = G)
write.csv(format(out, digits = 15), file.path(outdir, "first_stage_r_output.csv"),
          row.names = FALSE, quote = FALSE)
