# Reference values for tests/survey/test_sample_size.py (variance components of a
# village panel: between villages, village x month, within village-months).
#
# Written with R 4.2.2 (2022-11-10 r83330) and lme4 1.1-31 (Debian r-cran-lme4).
# Run from this folder:  Rscript make_sample_size.R
#
# Writes, next to this script:
#   sample_size_fixture.csv     simulated respondents: period, township, village (names
#                               repeated across townships: villages are nested), weight,
#                               y (0/1), unbalanced (1 = row kept in the unbalanced case)
#   sample_size_components.csv  case, method, p, sigma2_village, sigma2_village_month,
#                               sigma2_within, deff_weights; numbers with 17 digits
#
# The model: y = mu[township, month] + a[village] + b[village, month] + e.
# * balanced, 3 townships x 5 villages x 4 months x 24 respondents:
#   - "reml": lmer(y ~ 0 + tm + (1 | vid) + (1 | vid:period), REML = TRUE);
#   - "henderson3": Henderson's method III written with the full N x N projections
#     (below); with balanced data and positive estimates it equals REML, checked here.
# * unbalanced (a quarter of the rows dropped at random, and two village-months whole):
#   - "henderson3" as above: the estimator pingan_eval implements (exactly, no REML);
#   - "reml" for information only (not equal to Henderson III when unbalanced).
# deff_weights: Kish n sum(w^2) / sum(w)^2 per township, averaged with the townships'
# respondents as weights. p = mean(y).

suppressPackageStartupMessages(library(lme4))
options(warn = 1, stringsAsFactors = FALSE)
set.seed(20261202)

towns <- c("T1", "T2", "T3")
months <- c("2026-01", "2026-02", "2026-03", "2026-04")
base <- c(T1 = 0.85, T2 = 0.90, T3 = 0.80)
grid <- expand.grid(i = 1:24, period = months, village = paste0("V", 1:5), township = towns)
a <- setNames(rnorm(15, 0, 0.06), paste(rep(towns, each = 5), paste0("V", 1:5)))
vid <- paste(grid$township, grid$village)
cells <- unique(paste(vid, grid$period))
b <- setNames(rnorm(length(cells), 0, 0.04), cells)
shift <- setNames(rnorm(12, 0, 0.02), paste(rep(towns, each = 4), months))
prob <- base[grid$township] + shift[paste(grid$township, grid$period)] + a[vid] +
  b[paste(vid, grid$period)]
prob <- pmin(pmax(prob, 0.02), 0.98)
fixture <- data.frame(period = as.character(grid$period), township = as.character(grid$township),
                      village = as.character(grid$village),
                      weight = round(runif(nrow(grid), 0.5, 2), 3),
                      y = rbinom(nrow(grid), 1, prob))
drop_cells <- c("T1 V2 2026-03", "T3 V5 2026-01")
keep <- runif(nrow(fixture)) > 0.25 & !(paste(vid, grid$period) %in% drop_cells)
fixture$unbalanced <- as.integer(keep)
write.csv(fixture, "sample_size_fixture.csv", row.names = FALSE, quote = FALSE)

proj <- function(A) {
  q <- qr(A)
  Q <- qr.Q(q)[, seq_len(q$rank), drop = FALSE]
  Q %*% t(Q)
}

henderson3 <- function(d) {
  vid <- factor(paste(d$township, d$village))
  cell <- factor(paste(vid, d$period))
  tm <- factor(paste(d$township, d$period))
  X <- model.matrix(~ 0 + tm)
  Za <- model.matrix(~ 0 + vid)
  Zb <- model.matrix(~ 0 + cell)
  P1 <- proj(X); P2 <- proj(cbind(X, Za)); P3 <- proj(cbind(X, Za, Zb))
  y <- d$y; n <- length(y)
  A <- Za %*% t(Za); B <- Zb %*% t(Zb)
  tr <- function(M) sum(diag(M))
  ssw <- sum(y * (y - P3 %*% y)); qb <- sum(y * ((P3 - P2) %*% y))
  qa <- sum(y * ((P2 - P1) %*% y))
  s2w <- ssw / (n - tr(P3))
  s2vm <- (qb - tr(P3 - P2) * s2w) / tr((P3 - P2) %*% B)
  s2v <- (qa - tr(P2 - P1) * s2w - tr((P2 - P1) %*% B) * s2vm) / tr((P2 - P1) %*% A)
  c(sigma2_village = s2v, sigma2_village_month = s2vm, sigma2_within = s2w)
}

reml <- function(d) {
  d$vid <- paste(d$township, d$village)
  d$tm <- paste(d$township, d$period)
  fit <- lmer(y ~ 0 + tm + (1 | vid) + (1 | vid:period), data = d, REML = TRUE,
              control = lmerControl(optimizer = "bobyqa",
                                    optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(fit))
  c(sigma2_village = vc$vcov[vc$grp == "vid"],
    sigma2_village_month = vc$vcov[vc$grp == "vid:period"],
    sigma2_within = vc$vcov[vc$grp == "Residual"])
}

kish <- function(d) {
  k <- tapply(d$weight, d$township, function(w) length(w) * sum(w^2) / sum(w)^2)
  n <- tapply(d$weight, d$township, length)
  sum(k * n) / sum(n)
}

rows <- list()
for (case in c("balanced", "unbalanced")) {
  d <- if (case == "balanced") fixture else fixture[fixture$unbalanced == 1, ]
  h3 <- henderson3(d); rm <- reml(d)
  stopifnot(all(h3 > 0))
  if (case == "balanced") stopifnot(max(abs(h3 / rm - 1)) < 1e-5)
  for (method in c("henderson3", "reml")) {
    v <- if (method == "henderson3") h3 else rm
    rows[[length(rows) + 1]] <- data.frame(case = case, method = method, p = mean(d$y),
      sigma2_village = v[[1]], sigma2_village_month = v[[2]], sigma2_within = v[[3]],
      deff_weights = kish(d))
  }
}
out <- do.call(rbind, rows)
num <- vapply(out, is.numeric, TRUE)
out[num] <- lapply(out[num], function(x) sprintf("%.17g", x))
write.csv(out, "sample_size_components.csv", row.names = FALSE, quote = FALSE)
print(out)
