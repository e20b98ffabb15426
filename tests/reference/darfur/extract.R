# Extract of sensemakr's Darfur data (the columns of Cinelli and Hazlett's example model).
# Source: data/darfur.rda of the R package sensemakr 0.1.6 (github.com/carloscinelli/sensemakr).
# Run: Rscript extract.R path/to/darfur.rda darfur.csv
args <- commandArgs(trailingOnly = TRUE)
load(args[1])
cols <- c("peacefactor", "directlyharmed", "age", "farmer_dar", "herder_dar", "pastvoted",
          "hhsize_darfur", "female", "village")
out <- data.frame(lapply(darfur[cols], function(x) if (is.factor(x)) as.character(x) else as.numeric(x)))
out$peacefactor <- sprintf("%.17g", out$peacefactor)
write.csv(out, args[2], row.names = FALSE, quote = which(names(out) == "village"))
