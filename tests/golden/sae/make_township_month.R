# Reference values for tests/survey/test_township_month.py (township-by-month model).
#
# Written with R 4.2.2 (2022-11-10 r83330) and metafor 3.8-1 (Debian r-cran-metafor).
# Run from this folder:  Rscript make_township_month.R
#
# Writes, next to this script:
#   tm_data.csv     8 townships x 10 months (township T3 lacks 2024-04, T7 lacks 2024-10,
#                   T5 drops by 0.15 on the arcsine scale from 2024-06):
#                   township, period, month, yi (arcsine scale), n_eff, estimate = sin(yi)^2;
#                   rows shuffled; numbers with 17 digits (exact round trip)
#   tm_corr.csv     township, period_a, period_b, corr: the between-month sampling
#                   correlation, upper triangle only (period_a < period_b)
#   tm_params.csv   case, name, metafor, polished: sigma2 (township), tau2 (AR variance),
#                   rho and logLik(), as metafor's optimizer left them and polished (below)
#   tm_beta.csv     case, term, beta, se (at the polished components)
#   tm_blup.csv     case, township, period, blup, pev: blup = fitted + township BLUP +
#                   township-month BLUP (checked against metafor's ranef()), pev = g1 + g2
#
# The model: yi = X beta + u_township + v_township,month + e, V = Cov(e) known:
#   V[a, b] = corr_ab / (4 sqrt(n_eff_a n_eff_b)) within a township, 0 across townships,
#   corr_ab = c_i 0.9^|a - b| (a fixed panel of villages), c_i from 0.30 to 0.51.
# Cases (CONTROL: nlminb, rel.tol = 1e-10 (its default; 1e-12 stops with convergence = 1)):
#   reml_intercept  rma.mv(yi, V, random = list(~ 1 | township, ~ month | township),
#                   struct = "AR", method = "REML", data = d, control = CONTROL)
#   reml_period     the same with mods = ~ 0 + factor(period)
#   reml_break      the same with mods = ~ 0 + factor(period) + level_T5 + shift_T5: T5
#                   drops by 0.15 (about 6 points) from 2024-06 in the data: the level and
#                   shift columns pingan_eval gives a township with a break there (with
#                   only 8 townships its break test does not flag T5: the drop inflates tau2)
#   reml_upto6      reml_period on the months 2024-01 .. 2024-06 only
# (reml_period and reml_upto6 have sigma2 at its bound 0; the other two are interior.)
# g1 + g2 from the marginal covariance M = res$M and V (the EBLUP's MSE with known
# variance components, G = M - V, W = M^-1):
#   g1 = diag(G - G W G),  g2 = diag(D vcov(res) D'),  D = X - G W X.
# The g3 term has no R reference (tested by identities and simulation in Python).

suppressPackageStartupMessages(library(metafor))
options(warn = 1, stringsAsFactors = FALSE)
set.seed(20240611)
CONTROL <- list(optimizer = "nlminb", rel.tol = 1e-10, iter.max = 5000, eval.max = 10000)

num17 <- function(d) {
  for (col in names(d)) if (is.double(d[[col]])) d[[col]] <- sprintf("%.17g", d[[col]])
  d
}
write_csv <- function(d, file) {
  write.csv(num17(d), file, row.names = FALSE, fileEncoding = "UTF-8", na = "NA")
}

# ---- data ------------------------------------------------------------------------------
n_town <- 8
n_month <- 10
grid <- expand.grid(month = seq_len(n_month), town = seq_len(n_town))
grid <- grid[!(grid$town == 3 & grid$month == 4) & !(grid$town == 7 & grid$month == 10), ]
grid$township <- sprintf("T%d", grid$town)
grid$period <- sprintf("2024-%02d", grid$month)
grid$n_eff <- round(runif(nrow(grid), 60, 140))
c_town <- 0.30 + 0.03 * (seq_len(n_town) - 1)

V <- matrix(0, nrow(grid), nrow(grid))
for (i in seq_len(nrow(grid))) for (j in seq_len(nrow(grid))) {
  if (grid$town[i] != grid$town[j]) next
  lag <- abs(grid$month[i] - grid$month[j])
  corr <- if (lag == 0) 1 else c_town[grid$town[i]] * 0.9^lag
  V[i, j] <- corr / (4 * sqrt(grid$n_eff[i] * grid$n_eff[j]))
}
u <- rnorm(n_town, 0, 0.06)
v <- unlist(lapply(seq_len(n_town), function(i) {
  as.numeric(arima.sim(list(ar = 0.6), n_month, sd = 0.05 * sqrt(1 - 0.36)))
}))
theta <- 1.33 + 0.005 * grid$month + u[grid$town] + v[(grid$town - 1) * n_month + grid$month] -
  0.15 * (grid$town == 5 & grid$month >= 6)   # T5 drops about 6 points from 2024-06
grid$level_T5 <- as.numeric(grid$town == 5)
grid$shift_T5 <- as.numeric(grid$town == 5 & grid$month >= 6)
grid$yi <- theta + as.numeric(t(chol(V)) %*% rnorm(nrow(grid)))
grid$estimate <- sin(grid$yi)^2

corr_rows <- list()
for (i in seq_len(n_town)) {
  months <- grid$month[grid$town == i]
  for (a in months) for (b in months) if (a < b) {
    corr_rows[[length(corr_rows) + 1]] <- data.frame(
      township = sprintf("T%d", i), period_a = sprintf("2024-%02d", a),
      period_b = sprintf("2024-%02d", b), corr = c_town[i] * 0.9^(b - a))
  }
}
write_csv(do.call(rbind, corr_rows), "tm_corr.csv")
shuffled <- grid[sample(nrow(grid)), c("township", "period", "month", "yi", "n_eff", "estimate")]
write_csv(shuffled, "tm_data.csv")

stopifnot(!any(c("level_T5", "shift_T5") %in% names(shuffled)))

# ---- fits ------------------------------------------------------------------------------
# metafor's optimizer stops on a relative change of the log-likelihood (1e-10), which
# leaves the variance components accurate to about 1e-6 relative only. So each fit is
# polished: Newton on the explicit REML score (full k x k matrices, P the REML projection,
# a central-difference Jacobian), from metafor's estimate; a variance metafor puts below
# 1e-8, or that Newton drives below 0, is held at 0 (its score there is checked to be < 0).
#   score_k = -tr(P D_k)/2 + y'P D_k P y/2, D_k = dM/dtheta_k.
# The polished point must have a metafor logLik (all components fixed at it) >= that of
# metafor's own estimate; the BLUPs, pev and beta are metafor's at the polished point.
score_fn <- function(theta, d, Vd, X) {
  same <- outer(d$township, d$township, "==") * 1
  lag <- abs(outer(d$month, d$month, "-"))
  D <- list(same, same * theta[3]^lag,
            same * theta[2] * ifelse(lag > 0, lag * theta[3]^pmax(lag - 1, 0), 0))
  M <- Vd + theta[1] * D[[1]] + theta[2] * D[[2]]
  W <- solve(M)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X, t(X) %*% W)
  Py <- P %*% d$yi
  sapply(D, function(Dk) -sum(P * Dk) / 2 + sum(Py * (Dk %*% Py)) / 2)
}
polish <- function(theta, d, Vd, X) {
  free <- c(theta[1:2] > 1e-8, TRUE)
  theta[!free] <- 0
  for (it in 1:100) {
    s <- score_fn(theta, d, Vd, X)[free]
    h <- 1e-6 * pmax(abs(theta[free]), 1e-4)
    J <- sapply(seq_along(h), function(j) {
      e <- replace(numeric(3), which(free)[j], h[j])
      (score_fn(theta + e, d, Vd, X) - score_fn(theta - e, d, Vd, X))[free] / (2 * h[j])
    })
    step <- -solve(J, s)
    theta[free] <- theta[free] + step
    if (any(theta[1:2] < 0)) {
      free[1:2] <- free[1:2] & theta[1:2] > 0
      theta[!free] <- 0
      next
    }
    if (all(abs(step) <= 1e-14 * pmax(abs(theta[free]), 1e-3))) break
  }
  stopifnot(all(score_fn(theta, d, Vd, X)[!free] < 0))
  theta
}
fit_case <- function(case, rows, mods, method) {
  d <- grid[rows, ]
  Vd <- V[rows, rows]
  args <- list(yi = d$yi, V = Vd, mods = mods, data = d, method = method, struct = "AR",
               random = list(~ 1 | township, ~ month | township), control = CONTROL)
  res0 <- do.call(rma.mv, args)
  root <- polish(c(res0$sigma2, res0$tau2, res0$rho), d, Vd, res0$X)
  res <- do.call(rma.mv, c(args, list(sigma2 = root[1], tau2 = root[2], rho = root[3])))
  stopifnot(logLik(res) >= logLik(res0) - 1e-12)
  M <- res$M
  G <- M - Vd
  W <- solve(M)
  X <- res$X
  blup <- as.numeric(X %*% res$beta + G %*% W %*% (d$yi - X %*% res$beta))
  re <- ranef(res)
  check <- as.numeric(fitted(res)) + re$township[d$township, "intrcpt"] +
    re[["~month | township"]]$intrcpt
  stopifnot(max(abs(check - blup)) < 1e-10)
  D <- X - G %*% W %*% X
  pev <- diag(G - G %*% W %*% G) + diag(D %*% vcov(res) %*% t(D))
  list(
    params = data.frame(case = case, name = c("sigma2", "tau2", "rho", "loglik"),
                        metafor = c(res0$sigma2, res0$tau2, res0$rho, logLik(res0)),
                        polished = c(root, logLik(res))),
    beta = data.frame(case = case, term = rownames(res$beta), beta = as.numeric(res$beta),
                      se = as.numeric(res$se)),
    blup = data.frame(case = case, township = d$township, period = d$period, blup = blup,
                      pev = pev))
}
by_period <- ~ 0 + factor(period)
cases <- list(
  fit_case("reml_intercept", seq_len(nrow(grid)), ~ 1, "REML"),
  fit_case("reml_period", seq_len(nrow(grid)), by_period, "REML"),
  fit_case("reml_break", seq_len(nrow(grid)), ~ 0 + factor(period) + level_T5 + shift_T5,
           "REML"),
  fit_case("reml_upto6", which(grid$month <= 6), by_period, "REML"))
for (part in c("params", "beta", "blup")) {
  out <- do.call(rbind, lapply(cases, `[[`, part))
  if (part == "blup") out <- out[order(out$case, out$township, out$period), ]
  write_csv(out, sprintf("tm_%s.csv", part))
}
print(do.call(rbind, lapply(cases, `[[`, "params")))
