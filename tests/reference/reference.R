# Reference fits for tests/test_reference_r.py: R's glm / lm with factor dummies for the fixed
# effects and sandwich::vcovCL (type "HC1", clustered by judge).
#
#   Rscript tests/reference/reference.R tests/reference/h2_input.csv tests/reference/r_output.csv
#
# vcovCL with type = "HC1" and cadjust = TRUE multiplies the cluster sum of score outer products
# by G / (G - 1) x (n - 1) / (n - k), with k counting every coefficient (dummies included).
suppressPackageStartupMessages({
  library(sandwich)
})
args <- commandArgs(trailingOnly = TRUE)
input <- if (length(args) >= 1) args[1] else "tests/reference/h2_input.csv"
output <- if (length(args) >= 2) args[2] else "tests/reference/r_output.csv"
d <- read.csv(input, stringsAsFactors = FALSE)
d$post_policy__quota_shortfall <- d$post_policy * d$quota_shortfall
for (f in c("judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type")) d[[f]] <- factor(d[[f]])

terms <- c("quota_shortfall", "post_policy__quota_shortfall", "represented", "detained", "juvenile",
           "asylum_application")
fe <- "factor(judge_id) + factor(fiscal_year) + factor(fiscal_month) + factor(nationality) + factor(case_type)"
rhs <- paste(terms, collapse = " + ")

fits <- list(
  logit_fe = glm(as.formula(paste("granted ~", rhs, "+", fe)), data = d,
                 family = binomial(link = "logit"), control = glm.control(epsilon = 1e-12, maxit = 100)),
  ols_fe = lm(as.formula(paste("granted ~", rhs, "+", fe)), data = d),
  logit_nofe = glm(as.formula(paste("granted ~", rhs)), data = d,
                   family = binomial(link = "logit"), control = glm.control(epsilon = 1e-12, maxit = 100)),
  ols_nofe = lm(as.formula(paste("granted ~", rhs)), data = d)
)
rows <- list()
for (name in names(fits)) {
  m <- fits[[name]]
  V <- vcovCL(m, cluster = ~judge_id, type = "HC1", cadjust = TRUE)
  for (t in terms) {
    rows[[length(rows) + 1]] <- data.frame(model = name, term = gsub("__", ":", t),
                                           estimate = unname(coef(m)[t]),
                                           std_error = sqrt(V[t, t]),
                                           n_obs = nobs(m), k = length(coef(m)),
                                           n_clusters = length(unique(d$judge_id)))
  }
}
out <- do.call(rbind, rows)
write.csv(format(out, digits = 15), output, row.names = FALSE, quote = FALSE)
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))

# Average marginal effect of post_policy:quota_shortfall: on the post-policy decisions, the
# slope of the probability in quota_shortfall minus the same slope with the interaction's
# coefficient set to 0 (the definition in fairness_audit/models/marginal.py), by central finite
# differences of predicted probabilities; delta-method standard error with a numerical
# gradient and the vcovCL covariance.
ame_rows <- list()
for (name in c("logit_fe", "logit_nofe")) {
  m <- fits[[name]]
  X <- model.matrix(m)
  b <- coef(m)
  post <- d$post_policy == 1
  h <- 1e-5
  ame <- function(beta) {
    slope <- function(bb) {
      Xp <- X; Xm <- X
      Xp[, "quota_shortfall"] <- X[, "quota_shortfall"] + h
      Xm[, "quota_shortfall"] <- X[, "quota_shortfall"] - h
      Xp[, "post_policy__quota_shortfall"] <- d$post_policy * Xp[, "quota_shortfall"]
      Xm[, "post_policy__quota_shortfall"] <- d$post_policy * Xm[, "quota_shortfall"]
      (plogis(drop(Xp %*% bb)) - plogis(drop(Xm %*% bb)))[post] / (2 * h)
    }
    b0 <- beta
    b0["post_policy__quota_shortfall"] <- 0
    # with the coefficient set to 0 the linear predictor loses beta_t x_t as well
    100 * mean(slope(beta) - slope(b0))
  }
  # fixed effects held at their estimates: the gradient runs over the slopes (and the
  # intercept of the model without fixed effects)
  free <- if (name == "logit_fe") terms else c("(Intercept)", terms)
  g <- sapply(free, function(t) {
    e <- 1e-6
    bp <- b; bm <- b
    bp[t] <- b[t] + e; bm[t] <- b[t] - e
    (ame(bp) - ame(bm)) / (2 * e)
  })
  V <- vcovCL(m, cluster = ~judge_id, type = "HC1", cadjust = TRUE)[free, free]
  ame_rows[[length(ame_rows) + 1]] <- data.frame(model = name, term = "post_policy:quota_shortfall",
                                                 ame = ame(b), ame_std_error = sqrt(drop(t(g) %*% V %*% g)),
                                                 n_rows = sum(post))
}
write.csv(format(do.call(rbind, ame_rows), digits = 15), sub("\\.csv$", "_ame.csv", output),
          row.names = FALSE, quote = FALSE)
