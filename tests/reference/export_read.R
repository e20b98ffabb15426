# Read a file written by `fairness-audit export` as an R user would, apply the recoding that
# docs/export.md documents, and write what was read as a plain CSV for tests/test_export.py:
#
#   Rscript tests/reference/export_read.R OUT/court.dta read_dta.csv
#   Rscript tests/reference/export_read.R OUT/court.csv read_csv.csv
#
# The output has one column per exported column, every cell quoted text: true/false as
# "true"/"false", dates as YYYY-MM-DD, numbers with 17 significant digits (so that a double
# reads back exactly), missing as an empty cell. It is written byte by byte in UTF-8 whatever
# the locale (write.csv would re-encode non-ASCII text under a C locale).
#
# The recoding, as documented:
# - .dta (haven::read_dta): a variable labelled 0 = "no", 1 = "yes" is true/false; any other
#   labelled variable is coded text (codes from 1) and gives its labels (haven::as_factor);
#   dates are Dates; an empty text value is missing.
# - .csv (read.csv with every column as text and only empty cells as missing): one leading
#   apostrophe is removed from every cell that has one (only text cells can start with one).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: Rscript export_read.R INPUT.(dta|csv) OUTPUT.csv")
input <- args[1]
output <- args[2]

as_text <- function(x) {
  if (inherits(x, "Date")) return(ifelse(is.na(x), NA_character_, format(x, "%Y-%m-%d")))
  if (is.logical(x)) return(ifelse(is.na(x), NA_character_, ifelse(x, "true", "false")))
  if (is.numeric(x)) return(ifelse(is.na(x), NA_character_, sprintf("%.17g", x)))
  enc2utf8(as.character(x))
}

if (grepl("\\.dta$", input)) {
  suppressPackageStartupMessages(library(haven))
  d <- read_dta(input)
  for (name in names(d)) {
    x <- d[[name]]
    if (is.labelled(x)) {
      labels <- attr(x, "labels")
      if (length(labels) == 2 && identical(sort(unname(labels)), c(0, 1)) &&
          identical(names(sort(labels)), c("no", "yes"))) {
        x <- as.logical(zap_labels(x))
      } else {
        x <- as.character(as_factor(x, levels = "labels"))
      }
    } else if (is.character(x)) {
      x[x == ""] <- NA
    }
    d[[name]] <- x
  }
} else {
  d <- read.csv(input, colClasses = "character", na.strings = "", encoding = "UTF-8",
                check.names = FALSE, strip.white = FALSE)
  for (name in names(d)) d[[name]] <- sub("^'", "", d[[name]])
}

quote <- function(x) ifelse(is.na(x), "", paste0("\"", gsub("\"", "\"\"", x, fixed = TRUE), "\""))
cells <- lapply(d, function(x) quote(as_text(x)))
lines <- c(paste(quote(enc2utf8(names(d))), collapse = ","),
           if (nrow(d) > 0) do.call(paste, c(cells, sep = ",")) else character(0))
con <- file(output, open = "wb")
writeLines(enc2utf8(lines), con, sep = "\n", useBytes = TRUE)
close(con)
