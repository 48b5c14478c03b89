# Reference values for tests/test_golden.py, computed with R's survey package.
#
# Written with R 4.2.2 (2022-11-10 r83330) and survey 4.1.1 (Debian r-cran-survey).
# Run from this folder:  Rscript make_golden.R   (or `make golden` from the repo root)
#
# Writes, next to this script:
#   design_main.csv, design_lonely.csv  the survey data (seeded generator below)
#   golden_cases.csv                     one row per case: design, estimator, R call
#   golden_<case>.csv                    the R result of that case, one row per domain:
#                                        by columns, estimate, se, ci_low, ci_high, df, n, deff
#
# Conventions that pingan_eval documents and this script reproduces:
# * a domain is `design[rows, ]`, exactly what svyby() passes to its FUN, so
#   svyby(~y, ~by, design, svyciprop, ...) and the per-domain calls give the same numbers
#   (checked below with stopifnot);
# * mean(): svymean(~y, D, na.rm = TRUE, deff = TRUE) with confint(df = degf(D));
# * proportion(): svyciprop(~y, D, method = , level = , na.rm = TRUE), se from
#   SE(svyciprop), deff from svymean(~y, D, na.rm = TRUE, deff = TRUE);
# * where a domain's estimate is exactly 0 or 1 and degf(D) > 0, pingan_eval's logit and
#   beta intervals are Clopper-Pearson on the domain's unweighted n (R's own interval is
#   degenerate there): this script writes binom.test(x, n)$conf.int for those rows and
#   notes R's raw interval in the `note` column;
# * wilson and clopper-pearson on an unweighted simple random sample (Kish's n = n) are
#   checked against prop.test(correct = FALSE) and binom.test.

suppressPackageStartupMessages(library(survey))
options(warn = 1, stringsAsFactors = FALSE)
set.seed(20261128)

# ---- data ------------------------------------------------------------------------------
make_main <- function() {
  strata <- paste0("T", 1:6)
  n_psu <- c(2, 3, 4, 5, 6, 3)
  N_psu <- c(5, 9, 10, 12, 30, 3)      # T6 is sampled completely (fpc factor 0)
  rate <- c(0.90, 0.95, 0.85, 0.97, 0.92, 1.00)   # T6: every answer is 1
  rows <- list()
  for (h in seq_along(strata)) {
    for (j in seq_len(n_psu[h])) {
      m <- sample(3:12, 1)
      kind <- if ((h + j) %% 3 == 0) "社区" else "村"
      rows[[length(rows) + 1]] <- data.frame(
        township = strata[h],
        village = sprintf("%s-v%d", strata[h], j),
        kind = kind,
        N_psu = N_psu[h],
        weight = round(50 * h * runif(1, 0.6, 1.4) * runif(m, 0.7, 1.3), 3),
        sex = sample(c("男", "女"), m, replace = TRUE),
        secure = rbinom(m, 1, rate[h]),
        rare = rbinom(m, 1, 0.03),
        score = 25 * sample(0:4, m, replace = TRUE, prob = c(0.05, 0.1, 0.2, 0.35, 0.3))
      )
    }
  }
  d <- do.call(rbind, rows)
  n <- nrow(d)
  d$secure[sample(n, round(0.05 * n))] <- NA
  d$score[sample(n, round(0.05 * n))] <- NA
  d$rare[sample(n, round(0.03 * n))] <- NA
  # A PSU whose `secure` is missing throughout: it still counts in the domain's df.
  d$secure[d$village == "T4-v2"] <- NA
  # `cell` = "only" is a single PSU: a domain with df = 0.
  d$cell <- ifelse(d$village == "T3-v1", "only", "rest")
  d
}

make_lonely <- function() {
  strata <- c("L1", "L2", "L3", "L4")
  n_psu <- c(3, 4, 1, 1)              # L3 and L4 have a single sampled PSU
  N_psu <- c(8, 10, 4, 1)             # L4 is a certainty PSU (fpc factor 0)
  rows <- list()
  for (h in seq_along(strata)) {
    for (j in seq_len(n_psu[h])) {
      m <- sample(4:10, 1)
      rows[[length(rows) + 1]] <- data.frame(
        township = strata[h],
        village = sprintf("%s-v%d", strata[h], j),
        N_psu = N_psu[h],
        weight = round(30 * h * runif(m, 0.7, 1.3), 3),
        sex = sample(c("男", "女"), m, replace = TRUE),
        secure = rbinom(m, 1, 0.8),
        score = 25 * sample(0:4, m, replace = TRUE)
      )
    }
  }
  d <- do.call(rbind, rows)
  d$secure[sample(nrow(d), 3)] <- NA
  d
}

main <- make_main()
lonely <- make_lonely()
write.csv(main, "design_main.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "")
write.csv(lonely, "design_lonely.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "")
datasets <- list(main = main, lonely = lonely)

# ---- designs ---------------------------------------------------------------------------
build <- function(data, strata, psu, weights, fpc) {
  f <- function(x) if (x == "") NULL else as.formula(paste0("~", x))
  ids <- if (psu == "") ~1 else f(psu)
  suppressWarnings(svydesign(ids = ids, strata = f(strata), weights = f(weights),
                             fpc = f(fpc), nest = TRUE, data = data))
}

domains <- function(data, by) {
  if (length(by) == 0) return(list(list(keys = NULL, rows = rep(TRUE, nrow(data)))))
  key <- do.call(paste, c(unname(as.list(data[by])), sep = "\r"))
  ok <- complete.cases(data[by])
  lapply(sort(unique(key[ok])), function(l) {
    list(keys = data[match(l, key), by, drop = FALSE], rows = ok & key == l)
  })
}

# ---- one case --------------------------------------------------------------------------
run_case <- function(cs) {
  data <- datasets[[cs$data]]
  options(survey.lonely.psu = cs$lonely_psu)
  des <- build(data, cs$strata, cs$psu, cs$weights, cs$fpc)
  by <- if (cs$by == "") character(0) else strsplit(cs$by, ";")[[1]]
  y <- cs$variable
  fy <- as.formula(paste0("~", y))
  out <- list()
  for (dm in domains(data, by)) {
    D <- des[dm$rows, ]
    df <- degf(D)
    n <- sum(!is.na(data[[y]][dm$rows]))
    m <- svymean(fy, D, na.rm = TRUE, deff = TRUE)
    est <- unname(coef(m))
    se <- unname(SE(m))
    deff <- unname(deff(m))
    note <- ""
    yv <- data[[y]][dm$rows]
    yv <- yv[!is.na(yv)]
    if (length(unique(yv)) == 1 && (est != yv[1] || se != 0)) {
      # Every value is the same: in exact arithmetic the estimate is that value, the
      # variance 0 and deff 0/0. R keeps a rounding residue here; pingan_eval does not.
      note <- sprintf("constant domain; R gives estimate %s, se %s, deff %s",
                      format(est, digits = 17), format(se, digits = 6),
                      format(deff, digits = 6))
      est <- yv[1]
      se <- 0
      deff <- NaN
    }
    if (cs$estimator == "mean") {
      ci <- confint(m, df = df, level = cs$level)
      if (length(unique(yv)) == 1) ci <- c(est, est)
    } else if (cs$method %in% c("logit", "beta", "mean")) {
      p <- svyciprop(fy, D, method = cs$method, level = cs$level, na.rm = TRUE)
      # svyciprop's logit estimate is expit(coef(svyglm)): the weighted mean up to the
      # glm convergence tolerance; SE(p) is svymean's.
      stopifnot(abs(unname(coef(p)) - est) < 1e-8)
      ci <- as.vector(attr(p, "ci"))
      if (length(unique(yv)) == 1 && cs$method == "mean") ci <- c(est, est)
      if (cs$method == "logit" && df > 0 && !(est %in% c(0, 1)) && any(!is.finite(ci))) {
        # confint.svyglm turns the t level into a normal one via 1 - 2 pnorm(qt(a/2, df)),
        # which rounds to 1 at df = 1 and gives (0, NaN). Use the t quantile directly on
        # the same svyglm coefficient and standard error.
        g <- svyglm(as.formula(paste(y, "~ 1")), D, family = quasibinomial())
        note <- sprintf("t quantile used directly; R gives (%s, %s)",
                        format(ci[1], digits = 6), format(ci[2], digits = 6))
        ci <- plogis(unname(coef(g)) + c(-1, 1) * qt(1 - (1 - cs$level) / 2, df) *
                       sqrt(unname(vcov(g)[1, 1])))
      }
      if (cs$method != "mean" && (est == 0 || est == 1) && df > 0) {
        note <- paste0(if (note == "") "" else paste0(note, "; "), sprintf(
          "clopper-pearson on unweighted n; R gives (%s, %s)",
          format(ci[1], digits = 6), format(ci[2], digits = 6)))
        ci <- binom.test(round(est * n), n, conf.level = cs$level)$conf.int
      }
    } else if (cs$method == "clopper-pearson") {
      ci <- binom.test(round(est * n), n, conf.level = cs$level)$conf.int
    } else if (cs$method == "wilson") {
      ci <- prop.test(round(est * n), n, conf.level = cs$level, correct = FALSE)$conf.int
    } else if (cs$method == "jeffreys") {
      x <- round(est * n)
      a <- 1 - cs$level
      ci <- c(if (x == 0) 0 else qbeta(a / 2, x + 0.5, n - x + 0.5),
              if (x == n) 1 else qbeta(1 - a / 2, x + 0.5, n - x + 0.5))
    } else {
      stop("no reference for method ", cs$method)
    }
    if (df <= 0) ci <- c(NaN, NaN)
    row <- data.frame(estimate = est, se = se, ci_low = ci[1], ci_high = ci[2],
                      df = df, n = n, deff = deff, note = note)
    out[[length(out) + 1]] <- if (is.null(dm$keys)) row else cbind(dm$keys, row)
  }
  res <- do.call(rbind, out)
  # svyby() evaluates the same per-domain calls: check it agrees.
  if (cs$estimator == "proportion" && cs$method %in% c("logit", "beta", "mean") &&
      length(by) > 0) {
    sb <- suppressWarnings(svyby(fy, as.formula(paste0("~", paste(by, collapse = "+"))),
                                 des, svyciprop, method = cs$method, level = cs$level,
                                 vartype = c("se", "ci"), na.rm = TRUE))
    sb_key <- do.call(paste, c(unname(as.list(sb[by])), sep = "\r"))
    res_key <- do.call(paste, c(unname(as.list(res[by])), sep = "\r"))
    stopifnot(isTRUE(all.equal(unname(sb[[y]][match(res_key, sb_key)]), res$estimate)))
    stopifnot(isTRUE(all.equal(unname(sb[[length(by) + 2]][match(res_key, sb_key)]),
                               res$se)))
  }
  write.csv(res, sprintf("golden_%s.csv", cs$case), row.names = FALSE,
            fileEncoding = "UTF-8", na = "NaN")
  res
}

# ---- the cases -------------------------------------------------------------------------
case <- function(case, data, strata, psu, weights, fpc, lonely_psu, estimator, variable,
                 by, method = "", level = 0.95) {
  data.frame(case = case, data = data, strata = strata, psu = psu, weights = weights,
             fpc = fpc, lonely_psu = lonely_psu, estimator = estimator,
             variable = variable, by = by, method = method, level = level)
}
A <- c("main", "township", "village", "weight", "", "fail")      # strata + clusters + weights
B <- c("main", "township", "village", "weight", "N_psu", "fail") # ... with fpc
C <- c("main", "", "village", "weight", "", "fail")              # clusters only
D <- c("main", "township", "", "weight", "", "fail")             # strata, rows as PSUs
E <- c("main", "", "", "", "", "fail")                           # unweighted SRS
L <- function(policy, fpc = "") c("lonely", "township", "village", "weight", fpc, policy)
mk <- function(name, d, ...) do.call(case, c(list(name), as.list(d), list(...)))

cases <- rbind(
  mk("A_prop_logit_township", A, "proportion", "secure", "township", "logit"),
  mk("A_prop_beta_township", A, "proportion", "secure", "township", "beta"),
  mk("A_prop_wald_township", A, "proportion", "secure", "township", "mean"),
  mk("A_prop_logit_sex", A, "proportion", "secure", "sex", "logit"),
  mk("A_prop_beta_kind", A, "proportion", "secure", "kind", "beta"),
  mk("A_prop_logit_township_sex", A, "proportion", "secure", "township;sex", "logit"),
  mk("A_prop_beta_township_sex", A, "proportion", "secure", "township;sex", "beta"),
  mk("A_prop_logit_all", A, "proportion", "secure", "", "logit"),
  mk("A_prop_beta_all_90", A, "proportion", "secure", "", "beta", level = 0.90),
  mk("A_prop_logit_cell", A, "proportion", "secure", "cell", "logit"),
  mk("A_prop_beta_cell", A, "proportion", "secure", "cell", "beta"),
  mk("A_prop_logit_rare_township", A, "proportion", "rare", "township", "logit"),
  mk("A_prop_beta_rare_township", A, "proportion", "rare", "township", "beta"),
  mk("A_prop_wald_rare_kind", A, "proportion", "rare", "kind", "mean"),
  mk("A_mean_township", A, "mean", "score", "township"),
  mk("A_mean_township_sex", A, "mean", "score", "township;sex"),
  mk("A_mean_all", A, "mean", "score", ""),
  mk("A_mean_cell", A, "mean", "score", "cell"),
  mk("A_mean_kind_90", A, "mean", "score", "kind", level = 0.90),
  mk("B_prop_logit_township", B, "proportion", "secure", "township", "logit"),
  mk("B_prop_beta_township", B, "proportion", "secure", "township", "beta"),
  mk("B_prop_wald_sex", B, "proportion", "secure", "sex", "mean"),
  mk("B_mean_kind", B, "mean", "score", "kind"),
  mk("B_mean_all", B, "mean", "score", ""),
  mk("C_prop_logit_sex", C, "proportion", "secure", "sex", "logit"),
  mk("C_prop_beta_all", C, "proportion", "secure", "", "beta"),
  mk("C_mean_kind", C, "mean", "score", "kind"),
  mk("D_prop_logit_township", D, "proportion", "secure", "township", "logit"),
  mk("D_mean_sex", D, "mean", "score", "sex"),
  mk("E_prop_beta_township", E, "proportion", "rare", "township", "beta"),
  mk("E_prop_wilson_township", E, "proportion", "secure", "township", "wilson"),
  mk("E_prop_cp_township", E, "proportion", "rare", "township", "clopper-pearson"),
  mk("E_prop_jeffreys_township", E, "proportion", "secure", "township", "jeffreys"),
  mk("E_prop_jeffreys_rare_sex", E, "proportion", "rare", "sex", "jeffreys", level = 0.9),
  mk("E_mean_sex", E, "mean", "score", "sex"),
  mk("L_adjust_prop_logit_township", L("adjust"), "proportion", "secure", "township", "logit"),
  mk("L_adjust_prop_beta_sex", L("adjust"), "proportion", "secure", "sex", "beta"),
  mk("L_adjust_mean_all", L("adjust"), "mean", "score", ""),
  mk("L_adjust_fpc_mean_sex", L("adjust", "N_psu"), "mean", "score", "sex"),
  mk("L_adjust_fpc_prop_wald_all", L("adjust", "N_psu"), "proportion", "secure", "", "mean"),
  mk("L_remove_prop_logit_sex", L("remove"), "proportion", "secure", "sex", "logit"),
  mk("L_remove_mean_all", L("remove"), "mean", "score", ""),
  mk("L_certainty_prop_beta_all", L("certainty"), "proportion", "secure", "", "beta"),
  mk("L_certainty_fpc_mean_township", L("certainty", "N_psu"), "mean", "score", "township")
)

r_call <- function(cs) {
  des <- sprintf("svydesign(ids=%s, strata=%s, weights=%s, fpc=%s, nest=TRUE, data=%s)",
                 if (cs$psu == "") "~1" else paste0("~", cs$psu),
                 if (cs$strata == "") "NULL" else paste0("~", cs$strata),
                 if (cs$weights == "") "NULL" else paste0("~", cs$weights),
                 if (cs$fpc == "") "NULL" else paste0("~", cs$fpc), cs$data)
  by <- if (cs$by == "") "" else paste0("~", gsub(";", "+", cs$by))
  call <- if (cs$estimator == "mean") {
    sprintf("for each domain D = design[by == d, ]: confint(svymean(~%s, D, na.rm=TRUE, deff=TRUE), df=degf(D), level=%s)",
            cs$variable, cs$level)
  } else if (cs$method %in% c("logit", "beta", "mean")) {
    if (by == "") {
      sprintf("svyciprop(~%s, design, method='%s', level=%s, na.rm=TRUE)",
              cs$variable, cs$method, cs$level)
    } else {
      sprintf("svyby(~%s, %s, design, svyciprop, method='%s', level=%s, vartype=c('se','ci'), na.rm=TRUE)",
              cs$variable, by, cs$method, cs$level)
    }
  } else if (cs$method == "wilson") {
    "prop.test(x, n, correct=FALSE)$conf.int per domain (unweighted SRS: Kish n = n)"
  } else if (cs$method == "jeffreys") {
    "qbeta(c(a/2, 1-a/2), x+0.5, n-x+0.5) per domain, 0 at x=0 and 1 at x=n (unweighted SRS: Kish n = n)"
  } else {
    "binom.test(x, n)$conf.int per domain (unweighted SRS: Kish n = n)"
  }
  sprintf("options(survey.lonely.psu='%s'); design <- %s; %s", cs$lonely_psu, des, call)
}

cases$r_call <- vapply(seq_len(nrow(cases)), function(i) r_call(cases[i, ]), "")
for (i in seq_len(nrow(cases))) run_case(cases[i, ])
write.csv(cases, "golden_cases.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "")
cat("wrote", nrow(cases), "cases with R", R.version.string, "and survey",
    as.character(packageVersion("survey")), "\n")
