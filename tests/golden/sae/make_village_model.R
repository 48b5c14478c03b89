# Reference values for tests/survey/test_village_model.py (model-based village estimates).
#
# Written with R 4.2.2 (2022-11-10 r83330), survey 4.1.1 and metafor 3.8.1 (Debian).
# Run from this folder:  Rscript make_village_model.R
#
# Reads village_model_design.csv: a small deterministic test design written once by
# pingan_eval (4 townships = strata, 22 villages = PSUs, 15-30 respondents each, weights
# unequal within villages, two 0/1 indicators a and b with ~5% missing answers; numpy
# default_rng(20261206), rows shuffled). Rebuilds the table village_estimates() fits with
# R's own tools, independently of pingan_eval, and fits it with metafor:
#   direct   svyby(~a, ~township + village, design, svymean, na.rm = TRUE): the village's
#            domain estimate in the full design (svydesign(ids = ~village,
#            strata = ~township, weights = ~weight, nest = TRUE))
#            (rates within 1e-12 of 0 or 1 snapped to them, see below)
#   n, n_eff respondents with an answer; Kish n_eff = sum(w)^2 / sum(w^2) over them
#   x        asin(sqrt(P)), P = svyby(~a, ~township, design, svymean, na.rm = TRUE)
#   yi, vi   asin(sqrt(direct)), 1 / (4 n_eff)
#   fit      rma(yi, vi, mods = ~ x, method = "REML",
#                control = list(threshold = 1e-12, maxiter = 1000)), then blup(fit)
#   g1..g3   g1 = A vi/(A + vi), blup()$se^2 = g1 + g2 (checked), g3 = B^2 VarA/(A + vi),
#            B = vi/(A + vi), VarA = 2/sum(1/(A + vi)^2); mse_model = g1 + g2 + 2 g3
#   estimate E[sin^2(min(max(theta, 0), pi/2))], theta ~ N(eblup, g1): integrate() over
#            [0, pi/2] plus the upper tail (rate 1)
#   ci       sin^2 of eblup -/+ qnorm(0.975) sqrt(mse_model), clipped to [0, pi/2]
#   shrinkage A/(A + vi)
#
# Writes village_model_reml.csv (one row per village x indicator, sorted by township,
# village, then a before b) and village_model_params.csv (indicator, name, value: tau2,
# intercept, x). Numbers are printed with 17 significant digits.

suppressPackageStartupMessages({library(survey); library(metafor)})
options(warn = 1, stringsAsFactors = FALSE)
CONTROL <- list(threshold = 1e-12, maxiter = 1000)
LEVEL <- 0.95

num17 <- function(d) {
  for (col in names(d)) if (is.double(d[[col]])) d[[col]] <- sprintf("%.17g", d[[col]])
  d
}
write_csv <- function(d, file) {
  write.csv(num17(d), file, row.names = FALSE, fileEncoding = "UTF-8", na = "NA")
}

rate_mean <- function(mu, s) {   # E[sin^2(clip(theta, 0, pi/2))], theta ~ N(mu, s^2)
  if (s == 0) return(sin(min(max(mu, 0), pi / 2))^2)
  inner <- integrate(function(t) sin(t)^2 * dnorm(t, mu, s), 0, pi / 2,
                     rel.tol = 1e-12, abs.tol = 0)$value
  inner + pnorm(pi / 2, mu, s, lower.tail = FALSE)
}
back <- function(theta) sin(pmin(pmax(theta, 0), pi / 2))^2

d <- read.csv("village_model_design.csv")
des <- svydesign(ids = ~village, strata = ~township, weights = ~weight, nest = TRUE, data = d)
rows <- list()
params <- list()
for (ind in c("a", "b")) {
  f <- as.formula(paste0("~", ind))
  vill <- svyby(f, ~township + village, des, svymean, na.rm = TRUE, keep.var = FALSE)
  town <- svyby(f, ~township, des, svymean, na.rm = TRUE, keep.var = FALSE)
  names(vill)[3] <- "direct"
  # svymean gives 1 - 2^-52 for some villages where everyone answered 1; asin(sqrt(p)) has
  # an infinite slope at 1 (that 1e-16 becomes 1.5e-8), so snap rates that close to 0/1.
  vill$direct[abs(vill$direct - 1) < 1e-12] <- 1
  vill$direct[abs(vill$direct) < 1e-12] <- 0
  names(town)[2] <- "P"
  ok <- !is.na(d[[ind]])
  kish <- aggregate(cbind(n = 1, w = weight, w2 = weight^2) ~ township + village,
                    data = d[ok, ], FUN = sum)
  t <- merge(merge(vill, kish), town)
  t <- t[order(t$township, t$village, method = "radix"), ]
  t$n_eff <- t$w^2 / t$w2
  t$x <- asin(sqrt(t$P))
  t$yi <- asin(sqrt(t$direct))
  t$vi <- 1 / (4 * t$n_eff)
  fit <- rma(yi, vi, mods = ~ x, data = t, method = "REML", control = CONTROL)
  b <- blup(fit)
  A <- fit$tau2
  X <- cbind(1, t$x)
  V <- A + t$vi
  B <- t$vi / V
  g1 <- A * t$vi / V
  g2 <- B^2 * rowSums((X %*% solve(crossprod(X / V, X))) * X)
  stopifnot(max(abs(b$se^2 - (g1 + g2))) < 1e-12)
  g3 <- B^2 * (2 / sum(1 / V^2)) / V
  mse <- g1 + g2 + 2 * g3
  z <- qnorm((1 + LEVEL) / 2)
  rows[[ind]] <- data.frame(
    township = t$township, village = t$village, indicator = ind, direct = t$direct,
    n = as.integer(t$n), n_eff = t$n_eff, township_estimate = t$P, x = t$x, yi = t$yi,
    vi = t$vi, eblup = b$pred, pred_se = b$se, g1 = g1, g2 = g2, g3 = g3, mse_model = mse,
    estimate = mapply(rate_mean, b$pred, sqrt(g1)), ci_low = back(b$pred - z * sqrt(mse)),
    ci_high = back(b$pred + z * sqrt(mse)), shrinkage = A / V)
  params[[ind]] <- data.frame(indicator = ind, name = c("tau2", "intercept", "x"),
                              value = c(A, as.vector(coef(fit))))
}
out <- do.call(rbind, rows)
out <- out[order(out$township, out$village, out$indicator, method = "radix"), ]
write_csv(out, "village_model_reml.csv")
write_csv(do.call(rbind, params), "village_model_params.csv")
