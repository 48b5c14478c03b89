# Reference values for tests/survey/test_pooling.py: pooled estimates over windows of
# months and the covariance between months, computed with R's survey package.
#
# Written with R 4.2.2 (2022-11-10 r83330) and survey 4.1.1 (Debian r-cran-survey).
# Run from this folder:  Rscript make_pooled.R
# It first copies the fixture from the prepared sample when that exists (run
# `pingan-eval prepare --period all --raw data/raw/sample` in the repo root first);
# otherwise it reads the committed fixture.
#
# Writes, next to this script:
#   pooled_fixture.csv     3 townships x all their villages x 3 months of prepared
#                          respondents: period, respondent_id, township, village, weight,
#                          participation, security (empty = NA, "don't know")
#   pooled_cases.csv       one row per window: case, period, window, months, k, r_call
#   pooled_estimates.csv   per case, variable and township ("" = county): estimate, se,
#                          ci_low, ci_high, df, n, deff
#   pooled_covariance.csv  per variable and township ("" = county), months a and b of the
#                          window 2026-01..2026-03: cov (covariance of the monthly means)

suppressPackageStartupMessages(library(survey))
options(warn = 1, stringsAsFactors = FALSE, survey.lonely.psu = "fail")

months <- c("2026-01", "2026-02", "2026-03")
towns <- c("塔克什肯镇", "萨尔托海乡", "青河镇")
variables <- c("participation", "security")
processed <- file.path("..", "..", "..", "data", "processed")

# ---- fixture ---------------------------------------------------------------------------
if (all(file.exists(file.path(processed, months, "respondents.csv")))) {
  parts <- lapply(months, function(m) {
    d <- read.csv(file.path(processed, m, "respondents.csv"), encoding = "UTF-8",
                  colClasses = c(respondent_id = "character", township = "character",
                                 village = "character"))
    d <- d[d$township %in% towns, c("respondent_id", "township", "village", "weight",
                                    variables)]
    cbind(period = m, d)
  })
  fixture <- do.call(rbind, parts)
  out <- fixture
  text <- which(vapply(out, is.character, TRUE))
  out$weight <- sprintf("%.17g", out$weight)     # the exact doubles, not 15 digits
  write.csv(out, "pooled_fixture.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "",
            quote = text)
}
fixture <- read.csv("pooled_fixture.csv", encoding = "UTF-8",
                    colClasses = c(period = "character", respondent_id = "character",
                                   township = "character", village = "character"))
stopifnot(sum(is.na(fixture$security)) > 0, sum(is.na(fixture$participation)) > 0)

# ---- pooled estimates ------------------------------------------------------------------
stacked_design <- function(window) {
  k <- length(window)
  data <- fixture[fixture$period %in% window, ]
  data$wk <- data$weight / k
  svydesign(ids = ~village, strata = ~township, weights = ~wk, nest = TRUE, data = data)
}

pooled <- function(case, window) {
  d <- stacked_design(window)
  data <- d$variables
  rows <- list()
  for (y in variables) {
    fy <- as.formula(paste0("~", y))
    sb <- svyby(fy, ~township, d, svyciprop, method = "logit", vartype = c("se", "ci"),
                na.rm = TRUE)
    mb <- svyby(fy, ~township, d, svymean, deff = TRUE, na.rm = TRUE)
    # The ci_l, ci_u columns are svyciprop's intervals (confint(sb) would be Wald ones).
    # svyciprop's logit estimate is expit(coef(svyglm)): the weighted mean up to the glm
    # convergence tolerance (1e-8); the estimate written is svymean's, SE(svyciprop) is it.
    stopifnot(max(abs(coef(sb) / coef(mb) - 1)) < 1e-8)
    stopifnot(isTRUE(all.equal(unname(SE(sb)), unname(SE(mb)), tolerance = 1e-12)))
    stopifnot(identical(sb$township, mb$township))
    for (i in seq_along(sb$township)) {
      h <- sb$township[i]
      rows[[length(rows) + 1]] <- data.frame(
        case = case, variable = y, township = h, estimate = unname(coef(mb))[i],
        se = unname(SE(sb))[i], ci_low = sb$ci_l[i], ci_high = sb$ci_u[i], df = degf(subset(d, township == h)),
        n = sum(!is.na(data[[y]][data$township == h])), deff = unname(deff(mb))[i])
    }
    p <- svyciprop(fy, d, method = "logit", na.rm = TRUE)
    m <- svymean(fy, d, deff = TRUE, na.rm = TRUE)
    stopifnot(abs(as.numeric(coef(p)) / coef(m) - 1) < 1e-8)
    rows[[length(rows) + 1]] <- data.frame(
      case = case, variable = y, township = "", estimate = unname(coef(m)),
      se = as.numeric(SE(p)), ci_low = unname(attr(p, "ci"))[1],
      ci_high = unname(attr(p, "ci"))[2], df = degf(d), n = sum(!is.na(data[[y]])),
      deff = unname(deff(m)))
  }
  do.call(rbind, rows)
}

cases <- data.frame(
  case = c("month_2026-03", "quarter_2026-02", "quarter_2026-03"),
  period = c("2026-03", "2026-02", "2026-03"),
  window = c("month", "quarter", "quarter"))
cases$months <- c("2026-03", "2026-01;2026-02", "2026-01;2026-02;2026-03")
cases$k <- lengths(strsplit(cases$months, ";"))
cases$r_call <- sprintf(paste0(
  "d <- svydesign(ids=~village, strata=~township, weights=~I(weight/%d), nest=TRUE, ",
  "data=fixture[period %%in%% c(%s), ]); svyby(~y, ~township, d, svyciprop, ",
  "method='logit', vartype=c('se','ci'), na.rm=TRUE); svyciprop(~y, d, method='logit', ",
  "na.rm=TRUE); deff from svymean(~y, D, deff=TRUE, na.rm=TRUE); df = degf(D)"),
  cases$k, gsub(";", "', '", paste0("'", cases$months, "'")))
est <- do.call(rbind, lapply(seq_len(nrow(cases)), function(i) {
  pooled(cases$case[i], strsplit(cases$months[i], ";")[[1]])
}))

# ---- covariance between months ---------------------------------------------------------
# svyby(~y, ~period + township, covmat = TRUE) combines the domains' influence functions
# (svyby.survey.design2), so vcov() holds the covariance between the months of a
# township. It needs a design without the NA rows (svymean's influence function skips
# them, and svyby would misalign it with the domain's rows): subset() of an uncalibrated
# design keeps every stratum's sampled PSU count, so the variance is unchanged. Checked
# two ways: its diagonal is the month's own-design variance, and svyratio of the
# month-masked totals gives the same whole matrix.
d3 <- stacked_design(months)

by_period <- function(y, design, label) {
  sub <- eval(bquote(subset(design, !is.na(.(as.name(y))))))
  fy <- as.formula(paste0("~", y))
  if (label == "") {
    sb <- svyby(fy, ~period, sub, svymean, covmat = TRUE)
    keys <- months
  } else {
    sb <- svyby(fy, ~period + township, sub, svymean, covmat = TRUE)
    keys <- paste(months, label, sep = ".")
  }
  v <- vcov(sb)[keys, keys]
  stopifnot(isTRUE(all.equal(unname(diag(v)), unname(SE(sb)[match(keys, rownames(sb))])^2,
                             tolerance = 1e-12)))
  v
}

by_ratio <- function(y, design) {
  data <- design$variables
  num <- paste0("num", seq_along(months))
  den <- paste0("den", seq_along(months))
  for (t in seq_along(months)) {
    ok <- !is.na(data[[y]]) & data$period == months[t]
    data[[num[t]]] <- ifelse(ok, data[[y]], 0)
    data[[den[t]]] <- as.numeric(ok)
  }
  design$variables <- data
  r <- svyratio(as.formula(paste0("~", paste(num, collapse = "+"))),
                as.formula(paste0("~", paste(den, collapse = "+"))), design, covmat = TRUE)
  keep <- paste0(num, "/", den)
  vcov(r)[keep, keep]
}

own_month_var <- function(y, label, t) {
  md <- svydesign(ids = ~village, strata = ~township, weights = ~weight, nest = TRUE,
                  data = fixture[fixture$period == months[t], ])
  if (label != "") md <- subset(md, township == label)
  unname(SE(svymean(as.formula(paste0("~", y)), md, na.rm = TRUE))^2)
}

cov_rows <- list()
for (y in variables) {
  for (h in c(towns, "")) {
    v <- by_period(y, d3, h)
    r <- by_ratio(y, if (h == "") d3 else subset(d3, township == h))
    stopifnot(isTRUE(all.equal(unname(v), unname(r), tolerance = 1e-10)))
    own <- vapply(seq_along(months), function(t) own_month_var(y, h, t), 0)
    stopifnot(isTRUE(all.equal(unname(diag(v)), own, tolerance = 1e-10)))
    cov_rows[[length(cov_rows) + 1]] <- data.frame(
      variable = y, township = h, period_a = rep(months, each = length(months)),
      period_b = rep(months, times = length(months)), cov = as.vector(t(v)))
  }
}
cov_out <- do.call(rbind, cov_rows)

write.csv(cases, "pooled_cases.csv", row.names = FALSE, fileEncoding = "UTF-8")
write.csv(est, "pooled_estimates.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "NaN")
write.csv(cov_out, "pooled_covariance.csv", row.names = FALSE, fileEncoding = "UTF-8",
          na = "NaN")
cat("wrote", nrow(est), "estimates and", nrow(cov_out), "covariances with",
    R.version.string, "and survey", as.character(packageVersion("survey")), "\n")
