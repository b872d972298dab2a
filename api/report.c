/* api/report.c — progress, CSV and SVG. The plot is a few panels of polylines with axes, ticks and
 * labels: nothing to install, readable in any browser. */
#include "api/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

SdStatus report_open(Report *r, const char *dir, const char *const *names, int n, bool resume, FILE *out, bool tty,
                     SdError *err)
{
    memset(r, 0, sizeof *r);
    r->out = out ? out : stdout;
    r->tty = tty;
    r->n_columns = n < REPORT_MAX_COLUMNS ? n : REPORT_MAX_COLUMNS;
    for (int i = 0; i < r->n_columns; i++)
        snprintf(r->columns[i], sizeof r->columns[i], "%s", names[i]);
    snprintf(r->csv_path, sizeof r->csv_path, "%s/log.csv", dir);
    snprintf(r->svg_path, sizeof r->svg_path, "%s/curves.svg", dir);
    bool exists = false;
    if (resume) { /* keep the earlier rows: the plot shows the whole run */
        FILE *old = fopen(r->csv_path, "r");
        char line[1024];
        exists = old != NULL;
        while (old && fgets(line, sizeof line, old)) {
            if (strncmp(line, "epoch,", 6) == 0)
                continue;
            double vals[REPORT_MAX_COLUMNS + 2];
            char *p = line;
            int k = 0;
            for (; k < r->n_columns + 2 && *p; k++) {
                char *end;
                vals[k] = strtod(p, &end);
                if (end == p)
                    vals[k] = NAN;
                p = strchr(p, ',');
                if (!p)
                    break;
                p++;
            }
            if (r->n_points == r->cap_points) {
                int cap = r->cap_points ? 2 * r->cap_points : 256;
                double *x = realloc(r->x, sizeof(double) * (size_t)cap);
                if (!x)
                    break;
                r->x = x;
                for (int c = 0; c < r->n_columns; c++)
                    r->y[c] = realloc(r->y[c], sizeof(double) * (size_t)cap);
                r->cap_points = cap;
            }
            r->x[r->n_points] = vals[0];
            for (int c = 0; c < r->n_columns; c++)
                r->y[c][r->n_points] = c + 2 <= k ? vals[c + 2] : NAN;
            r->n_points++;
        }
        if (old)
            fclose(old);
    }
    r->csv = fopen(r->csv_path, exists ? "a" : "w");
    if (!r->csv)
        return sd_errorf(err, SD_EIO, "cannot write '%s': %s", r->csv_path, strerror(errno));
    if (!exists) {
        fprintf(r->csv, "epoch,step");
        for (int i = 0; i < r->n_columns; i++)
            fprintf(r->csv, ",%s", r->columns[i]);
        fprintf(r->csv, "\n");
        fflush(r->csv);
    }
    return SD_OK;
}

SdStatus report_row(Report *r, double epoch, int64_t step, const double *values, SdError *err)
{
    fprintf(r->csv, "%.4f,%lld", epoch, (long long)step);
    for (int i = 0; i < r->n_columns; i++) {
        if (isnan(values[i]))
            fprintf(r->csv, ",");
        else
            fprintf(r->csv, ",%.6g", values[i]);
    }
    fprintf(r->csv, "\n");
    if (fflush(r->csv) != 0)
        return sd_errorf(err, SD_EIO, "cannot write '%s'", r->csv_path);
    if (r->n_points == r->cap_points) {
        int cap = r->cap_points ? 2 * r->cap_points : 256;
        double *x = realloc(r->x, sizeof(double) * (size_t)cap);
        if (!x)
            return sd_errorf(err, SD_ENOMEM, "out of memory");
        r->x = x;
        for (int c = 0; c < r->n_columns; c++) {
            double *y = realloc(r->y[c], sizeof(double) * (size_t)cap);
            if (!y)
                return sd_errorf(err, SD_ENOMEM, "out of memory");
            r->y[c] = y;
        }
        r->cap_points = cap;
    }
    r->x[r->n_points] = epoch;
    for (int c = 0; c < r->n_columns; c++)
        r->y[c][r->n_points] = values[c];
    r->n_points++;
    return SD_OK;
}

static void clock_str(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)s;
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

void report_progress(Report *r, int64_t epoch, int64_t epochs, int64_t step, int64_t steps, double loss, double lr,
                     double images_per_s, double eta_s, bool force)
{
    char eta[32];
    clock_str(eta_s, eta, sizeof eta);
    if (r->tty) {
        char bar[31];
        int filled = steps ? (int)(30 * step / steps) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = 0;
        fprintf(r->out, "\repoch %lld/%lld [%s] %lld/%lld  loss %.4f  lr %.4g  %.0f img/s  ETA %s ", (long long)epoch,
                (long long)epochs, bar, (long long)step, (long long)steps, loss, lr, images_per_s, eta);
        if (force)
            fprintf(r->out, "\n");
        fflush(r->out);
        return;
    }
    double t = now_s();
    if (!force && t - r->last_print < 10.0)
        return;
    r->last_print = t;
    fprintf(r->out, "epoch %lld/%lld step %lld/%lld loss %.4f lr %.4g %.0f img/s ETA %s\n", (long long)epoch,
            (long long)epochs, (long long)step, (long long)steps, loss, lr, images_per_s, eta);
    fflush(r->out);
}

/* One panel: every series named in `cols` against the epoch, each scaled to its own range when
 * `own_scale` (loss and learning rate differ by orders of magnitude). */
static void panel(FILE *f, const Report *r, int top, const int *cols, int n_cols, const char *title)
{
    const int left = 70, width = 620, height = 220;
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < r->n_points; i++) {
        x0 = fmin(x0, r->x[i]), x1 = fmax(x1, r->x[i]);
        for (int k = 0; k < n_cols; k++)
            if (!isnan(r->y[cols[k]][i]))
                y0 = fmin(y0, r->y[cols[k]][i]), y1 = fmax(y1, r->y[cols[k]][i]);
    }
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1, y0 -= 1;
    fprintf(f, "<g font-family='sans-serif' font-size='11'>\n<text x='%d' y='%d' font-size='13'>%s</text>\n", left,
            top - 8, title);
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>\n", left, top, width, height);
    for (int t = 0; t <= 4; t++) {
        double yv = y0 + (y1 - y0) * t / 4, xv = x0 + (x1 - x0) * t / 4;
        int py = top + height - height * t / 4, px = left + width * t / 4;
        fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%.3g</text>\n", left - 4, py + 4, yv);
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%.3g</text>\n", px, top + height + 14, xv);
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#eee'/>\n", left, py, left + width, py);
    }
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>epoch</text>\n", left + width / 2, top + height + 28);
    for (int k = 0; k < n_cols; k++) {
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", colors[k % 6]);
        for (int i = 0; i < r->n_points; i++) {
            double v = r->y[cols[k]][i];
            if (isnan(v))
                continue;
            fprintf(f, "%.1f,%.1f ", left + width * (r->x[i] - x0) / (x1 - x0),
                    top + height - height * (v - y0) / (y1 - y0));
        }
        fprintf(f, "'/>\n<text x='%d' y='%d' fill='%s'>%s</text>\n", left + width + 8, top + 14 + 14 * k, colors[k % 6],
                r->columns[cols[k]]);
    }
    fprintf(f, "</g>\n");
}

SdStatus report_plot(Report *r, const char *title, SdError *err)
{
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->svg_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sd_errorf(err, SD_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    /* panels: loss, learning rate, then every other column that has values */
    int loss = -1, lr = -1, others[REPORT_MAX_COLUMNS], n_others = 0;
    for (int c = 0; c < r->n_columns; c++) {
        bool any = false;
        for (int i = 0; i < r->n_points && !any; i++)
            any = !isnan(r->y[c][i]);
        if (!any)
            continue;
        if (strcmp(r->columns[c], "loss") == 0)
            loss = c;
        else if (strcmp(r->columns[c], "lr") == 0)
            lr = c;
        else if (strcmp(r->columns[c], "images_per_s") != 0)
            others[n_others++] = c;
    }
    int panels = (loss >= 0) + (lr >= 0) + (n_others > 0);
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='800' height='%d' viewBox='0 0 800 %d'>\n"
               "<rect width='100%%' height='100%%' fill='white'/>\n<text x='70' y='22' font-family='sans-serif' "
               "font-size='15'>%s</text>\n",
            60 + 290 * panels, 60 + 290 * panels, title);
    int top = 60;
    if (loss >= 0)
        panel(f, r, top, &loss, 1, "training loss"), top += 290;
    if (lr >= 0)
        panel(f, r, top, &lr, 1, "learning rate"), top += 290;
    if (n_others)
        panel(f, r, top, others, n_others, "metrics");
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0 || rename(tmp, r->svg_path) != 0)
        return sd_errorf(err, SD_EIO, "cannot write '%s'", r->svg_path);
    return SD_OK;
}

void report_close(Report *r)
{
    if (r->csv)
        fclose(r->csv);
    free(r->x);
    for (int c = 0; c < REPORT_MAX_COLUMNS; c++)
        free(r->y[c]);
    memset(r, 0, sizeof *r);
}
