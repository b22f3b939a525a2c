suppressPackageStartupMessages({library(survival); library(jsonlite)})
options(digits = 15)
ver <- as.character(packageVersion("survival"))
cat("survival version:", ver, "\n")
cat("R version:", R.version.string, "\n\n")

datasets <- list(
  a = list(time = c(10, 20, 30, 40), status = c(1, 1, 0, 0)),
  b = list(time = c(10, 20, 30, 40), status = c(1, 1, 1, 1)),
  c = list(time = 1:10 * 7, status = c(1,1,1,1,1,0,1,0,1,0)),
  d = list(time = 1:10 * 7, status = rep(1, 10)),
  e = list(time = 1:20 * 5, status = c(rep(1, 10), rep(0, 10))),
  f = list(time = 1:20 * 5, status = rep(1, 20)),
  g = list(time = 1:20 * 5, status = c(1,0,1,0,1,1,1,1,1,1,1,1,0,1,1,1,1,0,1,1)),
  h = list(time = c(5, 5, 10, 15, 15, 20), status = c(1, 1, 1, 0, 1, 1)),
  i = list(time = c(3, 6, 9, 12, 15), status = c(0, 0, 1, 0, 0))
)
f15 <- function(x) ifelse(is.na(x), "NA", formatC(x, digits = 15, format = "g"))
num <- function(x) { x <- as.numeric(x); x[is.nan(x)] <- NA; x }

out <- list(survival_version = ver, R_version = R.version.string,
            conf_type = "log-log", conf_int = 0.95, datasets = list(), even_n_medians = list())
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  fit <- survfit(Surv(d$time, d$status) ~ 1, conf.type = "log-log", conf.int = 0.95)
  tab <- summary(fit)$table
  q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
  cat("==== dataset", nm, "====\n")
  cat("time:  ", d$time, "\nstatus:", d$status, "\n")
  cat("median =", f15(tab["median"]), " 0.95LCL =", f15(tab["0.95LCL"]),
      " 0.95UCL =", f15(tab["0.95UCL"]), "\n")
  st <- data.frame(time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event,
                   n.censor = fit$n.censor, surv = fit$surv, lower = fit$lower, upper = fit$upper)
  cat("step table (fit fields):\n")
  cat(sprintf("%8s %7s %8s %9s %22s %22s %22s\n", "time","n.risk","n.event","n.censor","surv","lower","upper"))
  for (r in seq_len(nrow(st)))
    cat(sprintf("%8s %7d %8d %9d %22s %22s %22s\n", f15(st$time[r]), as.integer(st$n.risk[r]),
                as.integer(st$n.event[r]), as.integer(st$n.censor[r]),
                f15(st$surv[r]), f15(st$lower[r]), f15(st$upper[r])))
  cat("quantile(fit, probs=c(0.25,0.5,0.75)):\n")
  cat(sprintf("%6s %22s %22s %22s\n", "prob", "quantile", "lower", "upper"))
  for (k in 1:3)
    cat(sprintf("%6s %22s %22s %22s\n", c("0.25","0.5","0.75")[k], f15(q$quantile[k]),
                f15(q$lower[k]), f15(q$upper[k])))
  cat("print(fit):\n"); print(fit)
  same <- identical(num(tab["median"]), num(q$quantile[2]))
  cat("table median (survmean/minmin) == quantile(fit)$quantile[0.5] (findq)?", same, "\n")
  cat("\n")
  out$datasets[[nm]] <- list(
    time = d$time, status = d$status,
    median = num(tab["median"]), LCL95 = num(tab["0.95LCL"]), UCL95 = num(tab["0.95UCL"]),
    steps = list(time = num(fit$time), n_risk = num(fit$n.risk), n_event = num(fit$n.event),
                 n_censor = num(fit$n.censor), surv = num(fit$surv),
                 lower = num(fit$lower), upper = num(fit$upper)),
    quantiles = list(probs = c(0.25, 0.5, 0.75), quantile = num(q$quantile),
                     lower = num(q$lower), upper = num(q$upper)),
    table_median_equals_quantile_median = same)
}

cat("==== even n, time = 1:n, all events ====\n")
cat(sprintf("%5s %10s %10s %6s %12s\n", "n", "median", "n/2+0.5", "equal", "quantile0.5"))
for (n in seq(2, 100, by = 2)) {
  fit <- survfit(Surv(1:n, rep(1, n)) ~ 1, conf.type = "log-log")
  tab <- summary(fit)$table
  m <- num(tab["median"])
  qm <- num(quantile(fit, probs = 0.5)$quantile)
  cat(sprintf("%5d %10s %10s %6s %12s\n", n, f15(m), f15(n/2 + 0.5), isTRUE(m == n/2 + 0.5), f15(qm)))
  out$even_n_medians[[length(out$even_n_medians) + 1]] <-
    list(n = n, median = m, quantile_median = qm, LCL95 = num(tab["0.95LCL"]), UCL95 = num(tab["0.95UCL"]))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), "km_reference.json")
cat("\nJSON written to km_reference.json\n")
