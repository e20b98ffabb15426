# Inputs and published outputs of the HonestDiD R package's worked examples, as CSV.
#
# Usage: Rscript export_honestdid.R <checkout of github.com/asheshrambachan/HonestDiD>
# (the files were written from commit 6813f02; base R only, no package needed).
#
# * ehec (the README's Medicaid-expansion example): the README's chunk cache
#   (README_cache/gfm, written by knitr when the README was rendered) holds the printed results
#   at full precision and, in the chunk with a control, the data and the event study with the
#   control. The example without the control (whose betahat and sigma feed the printed
#   relative-magnitudes tables) is not cached: it is re-estimated here as fixest::feols
#   estimated it, dins ~ i(year, D, ref = 2013) | stfips + year, clustered by stfips, with
#   fixest's small-sample factor G / (G - 1) x (n - 1) / (n - K), K = the coefficients and the
#   year effects (the state effects are nested in the clusters). The same code reproduces the
#   cached event study WITH the control to 1.5e-13 (checked below) and the cached conventional
#   interval of the average effect to 1e-15.
# * LW (Lovenheim and Willen, the vignette's example): data/LWdata_EventStudy.rda, and the
#   vignette's precomputed results data/VignetteResults.rda (commit 29adaaf).
# * r_rnorm_seed0.csv: R's set.seed(0); rnorm(4000) as 1000 rows of 4, the draws
#   HonestDiD's simulated least-favourable critical value starts from (mvtnorm::rmvnorm with
#   method "eigen" multiplies them by the symmetric square root of the moments' covariance).
options(digits = 17)
args <- commandArgs(trailingOnly = TRUE)
repo <- if (length(args)) args[1] else "HonestDiD"
cache <- file.path(repo, "README_cache", "gfm")
chunk <- function(prefix) {
  f <- sub("\\.rdb$", "", list.files(cache, pattern = paste0("^", prefix, "_.*\\.rdb$"), full.names = TRUE))
  e <- new.env(); lazyLoad(f, envir = e); e
}
num <- function(x) sprintf("%.17g", x)
write_vec <- function(x, file) writeLines(c("beta", num(x)), file)
write_mat <- function(x, file) write.table(matrix(num(x), nrow(x)), file, sep = ",",
                                           row.names = FALSE, col.names = FALSE, quote = FALSE)

# --- ehec: re-estimate the event study ---------------------------------------------------
e8 <- chunk("unnamed-chunk-8")
df <- as.data.frame(e8$df_nonstaggered); df[] <- lapply(df, function(x) as.vector(unclass(x)))
years <- c(2008:2012, 2014, 2015)
for (y in years) df[[paste0("ev", y)]] <- as.numeric(df$year == y) * df$D
twfe <- function(with_control) {
  f <- paste("dins ~", paste0("ev", years, collapse = " + "), if (with_control) "+ control" else "",
             "+ factor(stfips) + factor(year)")
  fit <- lm(as.formula(f), data = df)
  X <- model.matrix(fit); u <- resid(fit); n <- nrow(X); XtXi <- solve(crossprod(X))
  G <- length(unique(df$stfips)); S <- rowsum(X * u, df$stfips)
  K <- ncol(X) - (G - 1)  # the state effects (all but the intercept's) are nested in the clusters
  V <- XtXi %*% crossprod(S) %*% XtXi * G / (G - 1) * (n - 1) / (n - K)
  idx <- 2:(length(years) + 1)
  list(b = unname(coef(fit)[idx]), V = unname(V[idx, idx]))
}
with_control <- twfe(TRUE)
stopifnot(max(abs(with_control$V - unname(e8$sigma)) / abs(unname(e8$sigma))) < 1e-10,
          max(abs(with_control$b - unname(e8$betahat))) < 1e-12)
ehec <- twfe(FALSE)
e7 <- chunk("unnamed-chunk-7")
l <- c(0, 0, 0, 0, 0, 0.5, 0.5)
ci <- sum(l * ehec$b) + c(-1, 1) * qnorm(0.975) * sqrt(drop(t(l) %*% ehec$V %*% l))
stopifnot(max(abs(ci - c(e7$originalResults_avg$lb, e7$originalResults_avg$ub))) < 1e-12)
write_vec(ehec$b, "ehec_betahat.csv"); write_mat(ehec$V, "ehec_sigma.csv")
write_vec(unname(e8$betahat), "ehec_control_betahat.csv")
write_mat(unname(e8$sigma), "ehec_control_sigma.csv")

# --- LW -------------------------------------------------------------------------------------
load(file.path(repo, "data", "LWdata_EventStudy.rda"))
write_vec(unname(LWdata_EventStudy$betahat), "lw_betahat.csv")
write_mat(unname(LWdata_EventStudy$sigma), "lw_sigma.csv")

# --- published results at full precision ----------------------------------------------------
rows <- list()
add <- function(example, delta, method, l_vec, res, bound) {
  rows[[length(rows) + 1]] <<- data.frame(example = example, delta = delta, method = method,
                                          l_vec = l_vec, bound = res[[bound]],
                                          lb = num(res$lb), ub = num(res$ub))
}
add("ehec", "DeltaRM", "C-LF", "first", as.data.frame(chunk("unnamed-chunk-4")$delta_rm_results), "Mbar")
# the same call over Mbar = 0, 0.5, ..., 2, cached from another render of the README
add("ehec", "DeltaRM", "C-LF", "first_chunk5", as.data.frame(chunk("unnamed-chunk-5")$delta_rm_results), "Mbar")
add("ehec", "DeltaRM", "C-LF", "average", as.data.frame(e7$delta_rm_results_avg), "Mbar")
add("ehec", "DeltaSD", "FLCI", "first", as.data.frame(chunk("unnamed-chunk-6")$delta_sd_results), "M")
vr <- new.env(); load(file.path(repo, "data", "VignetteResults.rda"), envir = vr)
add("lw", "DeltaSD", "FLCI", "e17", as.data.frame(vr$VignetteResults$LW_DeltaSD_RobustResults), "M")
write.csv(do.call(rbind, rows), "published_full.csv", row.names = FALSE, quote = FALSE)

set.seed(0)
write_mat(matrix(rnorm(4000), nrow = 1000, byrow = TRUE), "r_rnorm_seed0.csv")
