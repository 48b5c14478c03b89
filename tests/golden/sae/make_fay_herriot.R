# Reference values for tests/survey/test_fay_herriot.py (Fay-Herriot small-area model).
#
# Written with R 4.2.2 (2022-11-10 r83330) and metafor 3.8-1 (Debian r-cran-metafor).
# Run from this folder:  Rscript make_fay_herriot.R
# (sae and emdi are not packaged by Debian and CRAN is unreachable here, so the MSE of
# sae::mseFH is written out below as an explicit formula, with its source in the comments.)
#
# Writes, next to this script:
#   fh_data_<data>.csv   the inputs: area column(s), estimate, se (and x, n_eff), rows in
#                        a shuffled order; numbers printed with 17 digits (exact round trip)
#   fh_cases.csv         one row per case: data, area, covariates, method, transform, level,
#                        and the exact R call
#   fh_<case>.csv        one row per area, sorted by area (C-locale order): area column(s),
#                        direct, direct_se, estimate, mse, ci_low, ci_high, shrinkage, and the
#                        model-scale components y, psi, synthetic, eblup, g1, g2, g3, mse_model
#   fh_params.csv        case, name, value: sigma2_u, loglik, intercept, x
#
# The model: y_i = x_i'beta + u_i + e_i, u_i ~ N(0, A), e_i ~ N(0, psi_i), psi_i known.
# * reml, ml: metafor::rma(yi, vi, mods, method = "REML" / "ML",
#   control = list(threshold = 1e-12, maxiter = 1000)); tau2 = A; blup()$pred = EBLUP.
# * amrl (Li & Lahiri 2010, emdi's "amrl"): A maximizes log(A) + l_REML(A). Solved here with
#   uniroot on the explicit score -tr(P)/2 + y'PPy/2 + 1/A (P from full m x m matrices) and
#   checked against optimize() over metafor's REML logLik at fixed tau2.
# * MSE (Prasad-Rao / Datta-Lahiri, as sae::mseFH 1.3 for REML and ML):
#     B_i = psi_i/(A + psi_i), g1 = psi_i (1 - B_i), g2 = B_i^2 x_i' (X'V^-1 X)^-1 x_i,
#     g3 = B_i^2 VarA/(A + psi_i), VarA = 2/sum(1/(A + psi)^2),
#     reml, amrl: mse = g1 + g2 + 2 g3;  ml: mse = g1 + g2 + 2 g3 - b B_i^2 with
#     b = -tr((X'V^-1 X)^-1 X'V^-2 X)/sum(1/(A + psi)^2)  (the ML bias of A).
#   blup()$se^2 is g1 + g2 (checked): metafor omits g3.
# * ci = EBLUP -/+ qnorm((1 + level)/2) sqrt(mse); shrinkage = A/(A + psi).
# * loglik is metafor's logLik(): for REML it includes + log det(X'X)/2.
# * arcsin (case rates_reml): y = asin(sqrt(p)), psi = 1/(4 n_eff); the rate estimate is
#   E[sin^2(min(max(theta, 0), pi/2))], theta ~ N(EBLUP, g1), by integrate() plus the upper
#   tail; the interval is sin^2 of the clipped model-scale interval; mse is the parametric
#   bootstrap of pingan_eval (random), so this script writes NA for it.

suppressPackageStartupMessages(library(metafor))
options(warn = 1, stringsAsFactors = FALSE)
set.seed(20261201)
CONTROL <- list(threshold = 1e-12, maxiter = 1000)

num17 <- function(d) {
  for (col in names(d)) if (is.double(d[[col]])) d[[col]] <- sprintf("%.17g", d[[col]])
  d
}
write_csv <- function(d, file) {
  write.csv(num17(d), file, row.names = FALSE, fileEncoding = "UTF-8", na = "NA")
}

# ---- data ------------------------------------------------------------------------------
seven <- data.frame(
  township = c("T4", "T1", "T7", "T3", "T6", "T2", "T5"),
  estimate = c(0.74, 0.62, 0.47, 0.55, 0.68, 0.81, 0.90),
  se = c(0.06, 0.05, 0.05, 0.08, 0.07, 0.04, 0.03)
)
zero <- data.frame(
  township = c("Z3", "Z8", "Z1", "Z6", "Z2", "Z5", "Z7", "Z4"),
  estimate = c(0.74, 0.73, 0.71, 0.70, 0.69, 0.72, 0.68, 0.66),
  se = c(0.06, 0.05, 0.07, 0.08, 0.06, 0.05, 0.07, 0.06)
)
make_cov30 <- function() {
  m <- 30
  x <- round(runif(m), 4)
  se <- round(runif(m, 0.03, 0.10), 4)
  theta <- 0.4 + 0.3 * x + rnorm(m, 0, 0.06)
  d <- data.frame(county = rep(c("C", "A", "B"), each = 10),
                  township = sprintf("t%02d", sample(m)),
                  estimate = round(theta + rnorm(m, 0, se), 6), se = se, x = x)
  d[sample(m), ]
}
cov30 <- make_cov30()
make_rates <- function() {
  m <- 12
  n_eff <- round(runif(m, 25, 250))
  p_true <- plogis(rnorm(m, 1.8, 0.6))
  x <- pmin(rbinom(m, n_eff, p_true), n_eff - 1)   # no rate of exactly 1: se > 0
  p <- x / n_eff
  data.frame(township = sprintf("R%02d", seq_len(m)), estimate = p,
             se = sqrt(p * (1 - p) / n_eff), n_eff = n_eff)[sample(m), ]
}
rates <- make_rates()
DATA <- list(seven = seven, zero = zero, cov30 = cov30, rates = rates)
for (name in names(DATA)) write_csv(DATA[[name]], sprintf("fh_data_%s.csv", name))

# ---- reference computations ------------------------------------------------------------
restricted_score <- function(A, y, X, psi) {
  Vi <- diag(1 / (A + psi))
  P <- Vi - Vi %*% X %*% solve(t(X) %*% Vi %*% X) %*% t(X) %*% Vi
  Py <- P %*% y
  -0.5 * sum(diag(P)) + 0.5 * sum(Py^2)
}

fit_amrl <- function(y, X, psi) {
  score <- function(A) restricted_score(A, y, X, psi) + 1 / A
  hi <- 10 * (var(y) + max(psi))
  A <- uniroot(score, c(1e-10 * min(psi), hi), tol = 1e-15, maxiter = 1000)$root
  # Independent check: the same maximum of log(A) + metafor's REML log-likelihood.
  ll <- function(t) as.numeric(logLik(rma(y, psi, mods = X, intercept = FALSE, tau2 = t,
                                          method = "REML"))) + log(t)
  opt <- optimize(ll, c(1e-8, hi), maximum = TRUE, tol = 1e-12)$maximum
  stopifnot(abs(opt - A) / A < 1e-4)
  A
}

# Every column of one case from A alone (explicit formulas; metafor values are checked).
reference <- function(y, X, psi, A, method, level) {
  w <- 1 / (A + psi)
  Q <- solve(t(X) %*% (w * X))
  beta <- drop(Q %*% t(X) %*% (w * y))
  synthetic <- drop(X %*% beta)
  gamma <- A * w
  eblup <- synthetic + gamma * (y - synthetic)
  Bd <- psi * w
  var_a <- 2 / sum(w^2)
  g1 <- psi * (1 - Bd)
  g2 <- Bd^2 * rowSums((X %*% Q) * X)
  g3 <- Bd^2 * var_a * w
  mse <- g1 + g2 + 2 * g3
  if (method == "ml") {
    b <- -sum(diag(Q %*% t(X) %*% (w^2 * X))) / sum(w^2)
    mse <- mse - b * Bd^2
  }
  z <- qnorm((1 + level) / 2)
  list(beta = beta, synthetic = synthetic, eblup = eblup, g1 = g1, g2 = g2, g3 = g3,
       mse = mse, shrinkage = gamma, low = eblup - z * sqrt(mse),
       high = eblup + z * sqrt(mse))
}

# E[sin^2(clip(theta, 0, pi/2))] for theta ~ N(mu, s^2).
arcsin_mean <- function(mu, s) {
  mapply(function(m, sd) {
    lo <- max(0, m - 40 * sd)
    hi <- min(pi / 2, m + 40 * sd)
    inner <- if (hi > lo) integrate(function(t) sin(t)^2 * dnorm(t, m, sd), lo, hi,
                                    rel.tol = 1e-13, subdivisions = 1000L)$value else 0
    inner + pnorm(pi / 2, m, sd, lower.tail = FALSE)
  }, mu, s)
}

CASES <- data.frame(
  case = c("seven_reml", "seven_ml", "seven_amrl", "cov30_reml", "cov30_ml", "cov30_amrl",
           "zero_reml", "zero_ml", "zero_amrl", "rates_reml"),
  data = c(rep("seven", 3), rep("cov30", 3), rep("zero", 3), "rates"),
  area = c(rep("township", 3), rep("county;township", 3), rep("township", 4)),
  covariates = c(rep("", 3), rep("x", 3), rep("", 4)),
  method = c(rep(c("reml", "ml", "amrl"), 3), "reml"),
  transform = c(rep("none", 9), "arcsin"),
  level = c("0.95", "0.95", "0.95", "0.9", "0.9", "0.9", "0.95", "0.95", "0.95", "0.95")
)
CASES$r_call <- ""
params <- list()

for (i in seq_len(nrow(CASES))) {
  cs <- CASES[i, ]
  d <- DATA[[cs$data]]
  area <- strsplit(cs$area, ";")[[1]]
  d <- d[do.call(order, c(unname(as.list(d[area])), method = "radix")), ]
  arcsin <- cs$transform == "arcsin"
  y <- if (arcsin) asin(sqrt(d$estimate)) else d$estimate
  psi <- if (arcsin) 1 / (4 * d$n_eff) else d$se^2
  has_x <- cs$covariates != ""
  X <- if (has_x) cbind(1, d$x) else matrix(1, nrow(d), 1)
  mods <- if (has_x) "mods = ~ x, " else ""
  if (cs$method == "amrl") {
    A <- fit_amrl(y, X, psi)
    res <- rma(y, psi, mods = X, intercept = FALSE, tau2 = A, method = "REML")
    CASES$r_call[i] <- sprintf(paste0(
      "A = uniroot(function(A) -sum(diag(P(A)))/2 + sum((P(A) %%*%% yi)^2)/2 + 1/A, ",
      "tol = 1e-15)$root; rma(yi, vi, %smethod = 'REML', tau2 = A)"), mods)
  } else {
    m_r <- toupper(cs$method)
    res <- if (has_x) {
      rma(y, psi, mods = ~ d$x, method = m_r, control = CONTROL)
    } else {
      rma(y, psi, method = m_r, control = CONTROL)
    }
    A <- res$tau2
    CASES$r_call[i] <- sprintf(paste0(
      "rma(yi, vi, %smethod = '%s', control = list(threshold = 1e-12, maxiter = 1000)); ",
      "blup(); mse = g1 + g2 + 2 g3%s"), mods, m_r,
      if (cs$method == "ml") " - b B^2 (sae::mseFH)" else " (sae::mseFH)")
  }
  if (arcsin) CASES$r_call[i] <- paste0(
    "yi = asin(sqrt(p)); vi = 1/(4 n_eff); ", CASES$r_call[i], "; estimate = integrate(",
    "function(t) sin(t)^2 * dnorm(t, pred, sqrt(g1)), 0, pi/2) + pnorm(pi/2, pred, ",
    "sqrt(g1), lower.tail = FALSE); ci = sin(clip(pred -/+ z sqrt(mse), 0, pi/2))^2")
  ref <- reference(y, X, psi, A, cs$method, as.numeric(cs$level))
  bl <- blup(res)
  stopifnot(isTRUE(all.equal(unname(ref$beta), unname(drop(coef(res))), tolerance = 1e-10)),
            isTRUE(all.equal(ref$eblup, bl$pred, tolerance = 1e-10)),
            isTRUE(all.equal(ref$g1 + ref$g2, bl$se^2, tolerance = 1e-10)))
  if (cs$data == "zero" && cs$method != "amrl") stopifnot(A == 0)
  if (cs$data != "zero" || cs$method == "amrl") stopifnot(A > 0)
  out <- d[area]
  out$direct <- d$estimate
  out$direct_se <- d$se
  if (arcsin) {
    out$estimate <- arcsin_mean(ref$eblup, sqrt(ref$g1))
    out$mse <- NA_real_
    out$ci_low <- sin(pmin(pmax(ref$low, 0), pi / 2))^2
    out$ci_high <- sin(pmin(pmax(ref$high, 0), pi / 2))^2
  } else {
    out$estimate <- ref$eblup
    out$mse <- ref$mse
    out$ci_low <- ref$low
    out$ci_high <- ref$high
  }
  out$shrinkage <- ref$shrinkage
  out$y <- y
  out$psi <- psi
  out$synthetic <- ref$synthetic
  out$eblup <- ref$eblup
  out$g1 <- ref$g1
  out$g2 <- ref$g2
  out$g3 <- ref$g3
  out$mse_model <- ref$mse
  write_csv(out, sprintf("fh_%s.csv", cs$case))
  names_beta <- c("intercept", if (has_x) "x")
  params[[i]] <- data.frame(case = cs$case,
                            name = c("sigma2_u", "loglik", names_beta),
                            value = c(A, as.numeric(logLik(res)), ref$beta))
}
write_csv(CASES, "fh_cases.csv")
write_csv(do.call(rbind, params), "fh_params.csv")
cat("wrote", nrow(CASES), "cases\n")
