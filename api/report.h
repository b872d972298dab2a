/* api/report.h — what a training run shows and keeps: the progress line (redrawn on a terminal,
 * plain lines otherwise), the CSV log of metrics, and an SVG plot of the curves written next to it
 * by seedc itself. */
#ifndef SD_API_REPORT_H
#define SD_API_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "support/status.h"

#define REPORT_MAX_COLUMNS 12

typedef struct Report {
    FILE *out;
    bool tty;
    FILE *csv;
    char csv_path[600], svg_path[600];
    int n_columns;
    char columns[REPORT_MAX_COLUMNS][32];
    /* the curves: one point per logged row */
    int n_points, cap_points;
    double *x;                       /* epoch (fractional) */
    double *y[REPORT_MAX_COLUMNS];   /* NAN where a row has no value */
    double last_print;               /* seconds, for plain-line pacing */
} Report;

/* Opens (appends to, when resuming) DIR/log.csv with columns "epoch,step," + names. */
SdStatus report_open(Report *r, const char *dir, const char *const *names, int n, bool resume, FILE *out, bool tty,
                     SdError *err);
/* One CSV row at fractional epoch x; values are NAN where not measured. */
SdStatus report_row(Report *r, double epoch, int64_t step, const double *values, SdError *err);
/* The progress line for step `step` of `steps` in epoch `epoch` of `epochs`. */
void report_progress(Report *r, int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss, double lr,
                     double images_per_s, double eta_s, bool force);
/* Writes DIR/curves.svg: the loss and learning rate against epochs, and the other columns. */
SdStatus report_plot(Report *r, const char *title, SdError *err);
void report_close(Report *r);

#endif
