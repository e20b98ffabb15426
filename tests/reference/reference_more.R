# Reference fits for tests/test_reference_r_more.py: H1, H5, H7, H2 with court x calendar month
# fixed effects, and H2 with fixed-effect groups whose outcomes are all 0 or all 1. R's lm / glm
# with every fixed effect as factor dummies; inputs drawn by tests/reference/draw_more_inputs.py.
#
#   Rscript tests/reference/reference_more.R tests/reference tests/reference
#
# (first argument: the folder of the *_input.csv files; second: where to write *_r_output.csv)
#
# Standard errors, clustered by judge:
# - H1: CRV3, the leave-one-judge-out jackknife, as an explicit loop over judges (sandwich 3.0-2
#   has no vcovJK), with the scaling of fairness_audit/models/jackknife.py:
#   V = (G - 1) / G x sum over judges g of (b_(-g) - b)^2, b the estimate on every judge, b_(-g)
#   the estimate without judge g (deviations from b, not from the mean of the b_(-g)).
# - the others: sandwich::vcovCL(type = "HC1", cadjust = TRUE), which multiplies the cluster sum
#   of score outer products by G / (G - 1) x (n - 1) / (n - k), k the number of coefficients
#   R estimates (dummies included; redundant dummies, such as one judge dummy per court when
#   judges are nested in courts and court x month dummies are present, not counted).
#
# Output columns: model, term, estimate, std_error, n_obs (rows fitted), k (coefficients
# estimated, aliased ones left out), n_aliased, n_clusters (judges in the rows fitted),
# n_dropped (rows dropped before the fit: fixed-effect levels whose outcomes are all 0 or all
# 1, found repeatedly; 0 unless stated), passes (the rounds of dropping that took).
suppressPackageStartupMessages({
  library(sandwich)
})
args <- commandArgs(trailingOnly = TRUE)
indir <- if (length(args) >= 1) args[1] else "tests/reference"
outdir <- if (length(args) >= 2) args[2] else indir
ctrl <- glm.control(epsilon = 1e-12, maxit = 100)

# Judges are nested in courts, so with court x month dummies one judge dummy per court is
# redundant. lm's QR (tolerance 1e-7) finds and drops such columns (H1 below: n_aliased), but
# glm's QR runs at min(1e-7, epsilon / 1000) = 1e-15 with epsilon 1e-12 and misses them: the fit
# then does not converge and the errors explode. The logits with court x month dummies therefore
# take the first judge of each court (in sorted order) as the reference: the same model, each
# remaining judge dummy read against that court's first judge, and no redundant column.
judge_in_court <- function(d) {
  first <- tapply(d$judge_id, d$court_id, min)
  ref <- d$judge_id %in% first
  factor(ifelse(ref, "(first judge of the court)", d$judge_id),
         levels = c("(first judge of the court)", sort(unique(d$judge_id[!ref]))))
}

read_input <- function(name) {
  d <- read.csv(file.path(indir, name), stringsAsFactors = FALSE, colClasses = c(judge_id = "character"))
  if ("calendar_month" %in% names(d)) {
    d$court_month <- paste(d$court_id, d$calendar_month)
    d$judge_in_court <- judge_in_court(d)
  }
  if ("quarter" %in% names(d)) d$court_quarter <- paste(d$court_id, d$quarter)
  d
}

fe_terms <- function(fes) paste0("factor(", fes, ")", collapse = " + ")

rows_for <- function(model, m, terms, V, d, n_dropped = 0, passes = 0) {
  b <- coef(m)
  data.frame(model = model, term = gsub("__", ":", terms), estimate = unname(b[terms]),
             std_error = sqrt(diag(V)[terms]), n_obs = nobs(m), k = sum(!is.na(b)),
             n_aliased = sum(is.na(b)), n_clusters = length(unique(d$judge_id)),
             n_dropped = n_dropped, passes = passes)
}

clustered <- function(m) vcovCL(m, cluster = ~judge_id, type = "HC1", cadjust = TRUE)

write_output <- function(out, name) {
  write.csv(format(out, digits = 15), file.path(outdir, name), row.names = FALSE, quote = FALSE)
}

# H1: OLS log_duration ~ post_policy:pre_policy_gap | judge_id + court_id x quarter, CRV3
d <- read_input("h1_input.csv")
d$post_policy__pre_policy_gap <- d$post_policy * d$pre_policy_gap
term <- "post_policy__pre_policy_gap"
f <- as.formula(paste("log_duration ~", term, "+", fe_terms(c("judge_id", "court_quarter"))))
m <- lm(f, data = d)
judges <- sort(unique(d$judge_id))
G <- length(judges)
# factor() inside the formula takes its levels from each subsample: no empty dummy columns
b_minus <- vapply(judges, function(j) unname(coef(lm(f, data = d[d$judge_id != j, ]))[term]), 0)
V <- matrix((G - 1) / G * sum((b_minus - coef(m)[term])^2), 1, 1, dimnames = list(term, term))
write_output(rows_for("h1_crv3", m, term, V, d), "h1_r_output.csv")

# H5: linear probability granted ~ unrepresented + post_policy:unrepresented + X | F, CRV1
d <- read_input("h5_input.csv")
d$post_policy__unrepresented <- d$post_policy * d$unrepresented
terms <- c("unrepresented", "post_policy__unrepresented", "detained", "juvenile", "asylum_application")
F <- c("judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type")
m <- lm(as.formula(paste("granted ~", paste(terms, collapse = " + "), "+", fe_terms(F))), data = d)
write_output(rows_for("h5_ols", m, terms, clustered(m), d), "h5_r_output.csv")

# H7: logit in_absentia ~ quota_shortfall + post_policy:quota_shortfall + X | F, CRV1
x_terms <- c("quota_shortfall", "post_policy__quota_shortfall", "represented", "detained", "juvenile",
             "asylum_application")
logit <- function(d, outcome, fes) {
  d$post_policy__quota_shortfall <- d$post_policy * d$quota_shortfall
  glm(as.formula(paste(outcome, "~", paste(x_terms, collapse = " + "), "+", fe_terms(fes))), data = d,
      family = binomial(link = "logit"), control = ctrl)
}
d <- read_input("h7_input.csv")
m <- logit(d, "in_absentia", F)
write_output(rows_for("h7_logit", m, x_terms, clustered(m), d), "h7_r_output.csv")

# H2 with Fc = judge_id + court_id x calendar month + nationality + case_type, CRV1
Fc <- c("judge_id", "court_month", "nationality", "case_type")
Fc_dummies <- c("judge_in_court", "court_month", "nationality", "case_type")
d <- read_input("h2_court_month_input.csv")
m <- logit(d, "granted", Fc_dummies)
write_output(rows_for("h2_court_month_logit", m, x_terms, clustered(m), d),
             "h2_court_month_r_output.csv")

# The same with constant-outcome groups: glm cannot estimate a dummy whose level has only 0 or
# only 1 outcomes (its coefficient runs off to -Inf or +Inf), so those rows are dropped first,
# level by level for every fixed effect, and again until no such level is left (dropping a
# judge can leave a court x month cell with one outcome).
d <- read_input("h2_separated_input.csv")
n_in <- nrow(d)
passes <- 0
repeat {
  constant <- rep(FALSE, nrow(d))
  for (fe in Fc) {
    share <- ave(d$granted, d[[fe]])
    constant <- constant | share == 0 | share == 1
  }
  if (!any(constant)) break
  d <- d[!constant, ]
  passes <- passes + 1
}
d$judge_in_court <- judge_in_court(d)  # the first judges of what is left
m <- logit(d, "granted", Fc_dummies)
write_output(rows_for("h2_separated_logit", m, x_terms, clustered(m), d, n_in - nrow(d), passes),
             "h2_separated_r_output.csv")

# CR2 (bias-reduced linearization, models/bias_reduced.py), clustered by judge, written out as a
# loop over judges: V = (X'WX)^-1 [sum_g s_g s_g'] (X'WX)^-1, s_g = X_g' W_g^(1/2) A_g e_g with
# e the working residuals times W^(1/2) and A_g = (I - H_gg)^(-1/2), H_gg the judge's block of
# the hat matrix of the last IRLS step (of least squares for lm). With judge dummies H_gg has an
# eigenvalue of 1 (the judge's own dummy); A_g is the Moore-Penrose inverse square root there
# (Pustejovsky & Tipton 2018). No small-sample factor.
cr2_loop <- function(m, cluster) {
  b <- coef(m)
  X <- model.matrix(m)[, !is.na(b), drop = FALSE]
  w <- weights(m, "working")
  if (is.null(w)) w <- rep(1, nrow(X))
  Xw <- X * sqrt(w)
  e <- sqrt(w) * residuals(m, "working")
  XX1 <- chol2inv(qr.R(qr(Xw)))
  meat <- matrix(0, ncol(X), ncol(X))
  for (j in unique(cluster)) {
    ij <- which(cluster == j)
    H <- Xw[ij, , drop = FALSE] %*% XX1 %*% t(Xw[ij, , drop = FALSE])
    ev <- eigen(diag(length(ij)) - H, symmetric = TRUE)
    root <- ifelse(ev$values > 1e-8, 1 / sqrt(pmax(ev$values, 1e-8)), 0)
    s <- crossprod(Xw[ij, , drop = FALSE], ev$vectors %*% (root * crossprod(ev$vectors, e[ij])))
    meat <- meat + s %*% t(s)
  }
  V <- XX1 %*% meat %*% XX1
  dimnames(V) <- list(colnames(X), colnames(X))
  V
}

# CR2 for a logit is not one estimator: any A_g with A_g B_g A_g' = Theta_g, B_g = Theta_g -
# U_g M U_g' the working covariance of the judge's response residuals (Theta = diag(v), v = mu (1
# - mu), U = v X, M = (X' diag(v) X)^-1), makes the meat unbiased when the logit is right. The loop
# above takes the symmetric inverse square root in the metric of the weights: A_g = Theta^(1/2)
# C_g^(-1/2) Theta^(-1/2), C_g = Theta^(-1/2) B_g Theta^(-1/2) = I - H_gg. clubSandwich (vcovCR,
# Pustejovsky & Tipton 2018) takes it in the metric of Theta: A_g = Theta^(1/2) G_g^(-1/2)
# Theta^(1/2), G_g = Theta^(1/2) B_g Theta^(1/2). This loop is clubSandwich's choice, written out
# so that the difference between the two can be shown without clubSandwich; for least squares
# (Theta = I) they are the same.
cr2_theta_loop <- function(m, cluster) {
  b <- coef(m)
  X <- model.matrix(m)[, !is.na(b), drop = FALSE]
  v <- fitted(m) * (1 - fitted(m))
  M <- chol2inv(qr.R(qr(X * sqrt(v))))
  e <- m$y - fitted(m)
  meat <- matrix(0, ncol(X), ncol(X))
  for (j in unique(cluster)) {
    ij <- which(cluster == j)
    r <- sqrt(v[ij])
    U <- X[ij, , drop = FALSE] * v[ij]
    G <- r * (diag(v[ij], length(ij)) - U %*% M %*% t(U)) * rep(r, each = length(ij))
    ev <- eigen((G + t(G)) / 2, symmetric = TRUE)
    root <- ifelse(ev$values > 1e-8 * max(ev$values), 1 / sqrt(pmax(ev$values, 1e-300)), 0)
    A <- r * (ev$vectors %*% (root * t(ev$vectors))) * rep(r, each = length(ij))
    s <- crossprod(X[ij, , drop = FALSE], A %*% e[ij])  # U_g' Theta_g^-1 = X_g'
    meat <- meat + s %*% t(s)
  }
  V <- M %*% meat %*% M
  dimnames(V) <- list(colnames(X), colnames(X))
  V
}

# H2 with court x month effects (the plan's primary): logit and linear probability, CR2 loop
d <- read_input("h2_court_month_input.csv")
m <- logit(d, "granted", Fc_dummies)
out <- rows_for("h2_court_month_logit_cr2", m, x_terms, cr2_loop(m, d$judge_id), d)
out <- rbind(out, rows_for("h2_court_month_logit_cr2_theta_metric", m, x_terms,
                           cr2_theta_loop(m, d$judge_id), d))
club <- if (requireNamespace("clubSandwich", quietly = TRUE)) {
  rows_for("h2_court_month_logit_clubsandwich", m, x_terms,
           as.matrix(clubSandwich::vcovCR(m, cluster = d$judge_id, type = "CR2")), d)
}
d$post_policy__quota_shortfall <- d$post_policy * d$quota_shortfall
m <- lm(as.formula(paste("granted ~", paste(x_terms, collapse = " + "), "+", fe_terms(Fc_dummies))),
        data = d)
out <- rbind(out, rows_for("h2_court_month_lpm_cr2", m, x_terms, cr2_loop(m, d$judge_id), d))
write_output(out, "h2_court_month_cr2_r_output.csv")

# H7's outcome without judge effects (nothing nested in the judges): for the linear model
# sandwich's HC2 is the same estimator, written beside the loop; for the logit the loop only
# (sandwich's clustered HC2 for a glm applies the non-symmetric hat matrix to the response
# residuals, which is not Bell & McCaffrey's weighted form)
d <- read_input("h7_input.csv")
d$post_policy__quota_shortfall <- d$post_policy * d$quota_shortfall
F_no_judge <- c("fiscal_year", "fiscal_month", "nationality", "case_type")
m <- lm(as.formula(paste("in_absentia ~", paste(x_terms, collapse = " + "), "+", fe_terms(F_no_judge))),
        data = d)
out <- rbind(
  rows_for("h7_no_judge_lpm_hc2_sandwich", m, x_terms, vcovCL(m, cluster = ~judge_id, type = "HC2"), d),
  rows_for("h7_no_judge_lpm_cr2_loop", m, x_terms, cr2_loop(m, d$judge_id), d))
m <- logit(d, "in_absentia", F_no_judge)
out <- rbind(out, rows_for("h7_no_judge_logit_cr2_loop", m, x_terms, cr2_loop(m, d$judge_id), d),
             rows_for("h7_no_judge_logit_cr2_theta_metric", m, x_terms,
                      cr2_theta_loop(m, d$judge_id), d))
write_output(out, "h7_cr2_r_output.csv")
# clubSandwich is not among the packages the tests need: its output is written where it is
# installed (Debian: r-cran-clubsandwich) and compared with the theta-metric loop
if (!is.null(club)) {
  club <- rbind(club, rows_for("h7_no_judge_logit_clubsandwich", m, x_terms,
                               as.matrix(clubSandwich::vcovCR(m, cluster = d$judge_id, type = "CR2")), d))
  write_output(club, "cr2_clubsandwich_r_output.csv")
}
cat(sprintf("R %s, sandwich %s\n", getRversion(), packageVersion("sandwich")))
