/* api/train_loop.c — the epochs: batches in, learning rate from the schedule, loss and metrics
 * out, progress, CSV and plot, checkpoints every N steps and at each epoch (atomic, rotated), exact
 * resume from the newest one, evaluation, and the recipe's exports at the end. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/driver.h"
#include "api/train_internal.h"
#include "codegen/aot.h"
#include "frontend/onnx/writer.h"
#include "runtime/checkpoint.h"
#include "support/mem.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The recipe's absolute path goes in too, so that `seedc export/eval/compile CKPT` can rebuild the
 * network the state belongs to. */
static SdStatus save_checkpoint(Trainer *t, int64_t data_epoch, int64_t data_batch, uint64_t recipe_hash,
                               const char *recipe_path, SdError *err)
{
    RtCheckpoint *ck = rt_ckpt_new();
    if (!ck)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    SdStatus st = SD_OK;
    for (int i = 0; i < sd_model_num_state(t->model) && st == SD_OK; i++) {
        SdStateInfo s = sd_model_state(t->model, i);
        st = rt_ckpt_add(ck, s.name, s.data, s.nbytes, err);
    }
    RtTrainPosition pos = {.epoch = t->epoch, .step = t->global_step, .data_epoch = data_epoch,
                           .data_batch = data_batch, .seed = (uint64_t)t->e->seed, .recipe_hash = recipe_hash};
    if (st == SD_OK)
        st = rt_ckpt_set_position(ck, &pos, err);
    if (st == SD_OK)
        st = rt_ckpt_set(ck, "experiment", t->e->name, err);
    if (st == SD_OK && strlen(recipe_path) <= RT_CKPT_VALUE_MAX)
        st = rt_ckpt_set(ck, "recipe", recipe_path, err);
    for (int i = 0; i < t->n_lets && st == SD_OK; i++) { /* let.0, let.1, ...: NAME=VALUE */
        char key[16], one[DSL_PATH_MAX + 64];
        snprintf(key, sizeof key, "let.%d", i);
        dsl_arg_format(&t->lets[i], one, sizeof one);
        st = rt_ckpt_set(ck, key, one, err);
    }
    int keep = t->e->checkpoint.keep > 0 ? (int)t->e->checkpoint.keep : 3;
    if (st == SD_OK)
        st = rt_ckpt_save(ck, t->out_dir, "ckpt", t->global_step, keep, NULL, 0, err);
    rt_ckpt_free(ck);
    return st;
}

/* Loads the newest checkpoint into the step's state; *pos says where to continue. */
static SdStatus resume(Trainer *t, uint64_t recipe_hash, RtTrainPosition *pos, bool *found, SdError *err)
{
    char path[700];
    SD_TRY(rt_ckpt_latest(t->out_dir, "ckpt", path, sizeof path, NULL, found, err));
    if (!*found)
        return SD_OK;
    RtCheckpoint *ck;
    SD_TRY(rt_ckpt_read(path, &ck, err));
    SdStatus st = rt_ckpt_get_position(ck, pos, err);
    if (st == SD_OK && pos->recipe_hash != recipe_hash)
        st = sd_errorf(err, SD_EUSAGE, "%s was written by another version of the recipe (or another --precision); "
                       "resuming would not continue the same run (start over in another --out folder)", path);
    for (int i = 0; i < sd_model_num_state(t->model) && st == SD_OK; i++) {
        SdStateInfo s = sd_model_state(t->model, i);
        st = rt_ckpt_copy_out(ck, s.name, s.data, s.nbytes, err);
    }
    rt_ckpt_free(ck);
    if (st == SD_OK)
        fprintf(t->opt.out ? t->opt.out : stdout, "seedc train: resumed from %s (epoch %lld, step %lld)\n", path,
                (long long)pos->epoch, (long long)pos->step);
    return st;
}

/* The trained network as an inference graph whose parameters and state are constants holding the
 * trained values (by name), ready for export. */
static SdStatus trained_graph(Trainer *t, const DslNetwork *net, bool with_head, IrGraph **out, SdError *err)
{
    SD_TRY(recipe_inference_graph(t->e, net, 1, !with_head, out, err));
    IrGraph *g = *out;
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role != IR_ROLE_PARAM && v->role != IR_ROLE_STATE)
            continue;
        int k = sd_model_find_state(t->model, v->name);
        if (k >= 0 && sd_model_state(t->model, k).nbytes == v->nbytes)
            memcpy(v->data, sd_model_state(t->model, k).data, v->nbytes);
        v->role = IR_ROLE_CONSTANT;
    }
    return SD_OK;
}

static SdStatus export_all(Trainer *t, SdError *err)
{
    FILE *out = t->opt.out ? t->opt.out : stdout;
    for (int i = 0; i < t->e->n_exports; i++) {
        const DslExport *x = &t->e->exports[i];
        const DslNetwork *net = x->network[0] ? dsl_experiment_network(t->e, x->network)
                                              : dsl_experiment_role(t->e, DSL_ROLE_STUDENT);
        if (!net)
            return sd_errorf(err, SD_EUSAGE, "%s:%d:%d: no network '%s' to export", x->loc.file, x->loc.line, x->loc.col,
                             x->network);
        IrGraph *g;
        SD_TRY(trained_graph(t, net, x->with_head, &g, err));
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", t->out_dir, x->path);
        SdStatus st;
        if (x->kind == DSL_EXPORT_ONNX) {
            OnnxExportOptions eo = {.symbolic_batch = true};
            st = sd_optimize(g, &t->sopt, "dce", NULL, NULL, err);
            if (st == SD_OK)
                st = onnx_export_file(g, path, &eo, err);
        } else {
            st = sd_optimize(g, &t->sopt, NULL, NULL, NULL, err);
            char name[64];
            const char *base = strrchr(x->path, '/');
            snprintf(name, sizeof name, "%s", base ? base + 1 : x->path);
            for (char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                    *p = '_';
            CgAotOptions ao = {.target = x->target[0] ? x->target : "native", .out = path, .source = t->e->name,
                               .kind = x->kind == DSL_EXPORT_EXE ? CG_EMIT_EXE : CG_EMIT_BUNDLE};
            ao.cg.name = name;
            ao.cg.lower.gemm = strcmp(x->gemm, "openblas") == 0 ? CG_GEMM_OPENBLAS : CG_GEMM_BUILTIN;
            CgAotReport rep;
            if (st == SD_OK)
                st = cg_compile_aot(g, &ao, &rep, err);
        }
        ir_graph_free(g);
        SD_TRY(st);
        fprintf(out, "seedc train: exported %s\n", path);
    }
    return SD_OK;
}

SdStatus trainer_run(Trainer *t, const char *recipe_path, SdTrainResult *result, SdError *err)
{
    const DslExperiment *e = t->e;
    FILE *out = t->opt.out ? t->opt.out : stdout;
    uint64_t recipe_hash = trainer_recipe_hash(recipe_path, e->name, t->lets_text, t->bf16);
    char recipe_abs[PATH_MAX];
    if (!realpath(recipe_path, recipe_abs))
        snprintf(recipe_abs, sizeof recipe_abs, "%s", recipe_path);
    RtTrainPosition pos = {0};
    bool resumed = false;
    if (t->opt.resume)
        SD_TRY(resume(t, recipe_hash, &pos, &resumed, err));
    int64_t batch = e->batch_size;
    int64_t per_epoch = t->train.n / batch;
    if (e->steps_per_epoch > 0 && e->steps_per_epoch < per_epoch)
        per_epoch = e->steps_per_epoch;
    if (t->opt.steps_per_epoch > 0 && t->opt.steps_per_epoch < per_epoch)
        per_epoch = t->opt.steps_per_epoch;
    if (per_epoch < 1)
        return sd_errorf(err, SD_EUSAGE, "%s: %lld training images are fewer than one batch of %lld", e->name,
                         (long long)t->train.n, (long long)batch);
    RtSchedule sched;
    trainer_configure_data(t, &t->aug, &sched, per_epoch);
    SD_TRY(rt_schedule_check(&sched, err));
    RtLoaderConfig lc = {.data = &t->train, .aug = &t->aug, .batch_size = (int)batch, .drop_last = true,
                         .shuffle = true, .seed = (uint64_t)e->seed,
                         .workers = (int)(e->data.workers > 0 ? e->data.workers : 1),
                         .start_epoch = resumed ? pos.data_epoch : 0, .start_batch = resumed ? pos.data_batch : 0};
    SD_TRY(rt_loader_new(&lc, &t->loader, err));
    int64_t loader_epoch_batches = rt_loader_batches_per_epoch(t->loader);
    const char *names[REPORT_MAX_COLUMNS] = {"loss", "lr", "images_per_s"};
    int n_names = 3;
    for (int i = 0; i < t->n_metrics && n_names < REPORT_MAX_COLUMNS - 3; i++)
        names[n_names++] = t->metric_names[i];
    names[n_names++] = "test_acc";
    names[n_names++] = "knn_acc";
    names[n_names++] = "linear_acc";
    SD_TRY(report_open(&t->rep, t->out_dir, names, n_names, resumed, out, t->opt.tty, err));

    int ni = sd_model_num_inputs(t->model), no = sd_model_num_outputs(t->model);
    void *in_ptr[RECIPE_MAX_VIEWS + 4] = {0}, *out_ptr[RECIPE_MAX_METRICS + 1];
    float lr_value = 0, outs[RECIPE_MAX_METRICS + 1];
    for (int j = 0; j < no; j++)
        out_ptr[j] = &outs[j];
    in_ptr[t->lr_input] = &lr_value;
    t->global_step = resumed ? pos.step : 0;
    int64_t start_epoch = resumed ? pos.epoch : 0, start_step = resumed ? pos.step - pos.epoch * per_epoch : 0;
    double t0 = now_s(), final_loss = NAN, test_acc = NAN, knn = NAN, linear = NAN;
    int64_t images = 0;
    SdStatus st = SD_OK;
    for (t->epoch = start_epoch; t->epoch < t->epochs && st == SD_OK; t->epoch++) {
        double epoch_loss = 0, epoch_metric[RECIPE_MAX_METRICS] = {0}, te = now_s();
        int64_t n_steps = 0;
        for (int64_t s = t->epoch == start_epoch ? start_step : 0; s < per_epoch && st == SD_OK; s++) {
            const RtBatch *b = rt_loader_next(t->loader);
            if (!b) {
                st = sd_errorf(err, SD_EINTERNAL, "the data loader stopped");
                break;
            }
            for (int v = 0; v < t->n_views; v++)
                in_ptr[v] = b->views[v];
            if (t->labels_input >= 0)
                in_ptr[t->labels_input] = b->labels;
            if (t->indices_input >= 0)
                in_ptr[t->indices_input] = b->indices;
            lr_value = (float)rt_schedule_lr(&sched, t->global_step);
            (void)ni;
            sd_model_run_raw(t->model, in_ptr, out_ptr);
            if (images == 0) /* the first step of the run (page faults, cold caches): not profiled */
                sd_model_profile_reset(t->model);
            t->global_step++, n_steps++;
            images += batch;
            if (!isfinite(outs[0])) {
                st = sd_errorf(err, SD_EUSAGE, "%s: the loss became %g at step %lld (lr %g): lower the learning rate",
                               e->name, (double)outs[0], (long long)t->global_step, (double)lr_value);
                break;
            }
            epoch_loss += outs[0];
            for (int m = 0; m < t->n_metrics; m++)
                epoch_metric[m] += outs[1 + m];
            double elapsed = now_s() - t0, rate = (double)images / (elapsed > 0 ? elapsed : 1);
            int64_t left = (t->epochs - t->epoch) * per_epoch - (s + 1);
            report_progress(&t->rep, t->epoch + 1, t->epochs, s + 1, per_epoch, epoch_loss / (double)n_steps,
                            lr_value, rate, (double)left * batch / rate, false);
            bool last = s + 1 == per_epoch;
            int64_t every = per_epoch >= 10 ? per_epoch / 10 : 1;
            if (!last && (s + 1) % every == 0) { /* finer points for the loss curve */
                double row[REPORT_MAX_COLUMNS];
                for (int k = 0; k < REPORT_MAX_COLUMNS; k++)
                    row[k] = NAN;
                row[0] = epoch_loss / (double)n_steps, row[1] = lr_value, row[2] = rate;
                st = report_row(&t->rep, (double)t->epoch + (double)(s + 1) / (double)per_epoch, t->global_step, row,
                                err);
            }
            if (e->checkpoint.every_steps > 0 && t->global_step % e->checkpoint.every_steps == 0 && !last) {
                /* every step took one batch: the loader's position is the step count */
                st = save_checkpoint(t, t->global_step / loader_epoch_batches, t->global_step % loader_epoch_batches,
                                     recipe_hash, recipe_abs, err);
            }
        }
        if (st != SD_OK)
            break;
        double loss = n_steps ? epoch_loss / (double)n_steps : NAN;
        final_loss = loss;
        report_progress(&t->rep, t->epoch + 1, t->epochs, per_epoch, per_epoch, loss, lr_value,
                        (double)(n_steps * batch) / (now_s() - te), 0, true);
        bool final = t->epoch + 1 == t->epochs;
        st = trainer_evaluate(t, final, &test_acc, &knn, &linear, err);
        double row[REPORT_MAX_COLUMNS];
        int k = 0;
        row[k++] = loss, row[k++] = lr_value, row[k++] = (double)(n_steps * batch) / (now_s() - te);
        for (int m = 0; m < t->n_metrics && k < REPORT_MAX_COLUMNS - 3; m++)
            row[k++] = n_steps ? epoch_metric[m] / (double)n_steps : NAN;
        row[k++] = test_acc, row[k++] = knn, row[k++] = linear;
        if (st == SD_OK)
            st = report_row(&t->rep, (double)(t->epoch + 1), t->global_step, row, err);
        if (st == SD_OK && !isnan(test_acc))
            fprintf(out, "  epoch %lld: test accuracy %.2f%%\n", (long long)(t->epoch + 1), 100 * test_acc);
        if (st == SD_OK && !isnan(knn))
            fprintf(out, "  epoch %lld: kNN accuracy %.2f%%\n", (long long)(t->epoch + 1), 100 * knn);
        if (st == SD_OK)
            st = report_plot(&t->rep, e->name, err);
        if (st == SD_OK && (e->checkpoint.every_epoch || final)) {
            t->epoch++; /* the checkpoint resumes at the next epoch */
            st = save_checkpoint(t, t->global_step / loader_epoch_batches, t->global_step % loader_epoch_batches,
                                 recipe_hash, recipe_abs, err);
            t->epoch--;
        }
    }
    double seconds = now_s() - t0;
    if (st == SD_OK && !t->opt.no_export)
        st = export_all(t, err);
    result->epochs = t->epochs;
    result->steps = t->global_step;
    result->final_loss = final_loss;
    result->test_accuracy = isnan(test_acc) ? -1 : test_acc;
    result->knn_accuracy = isnan(knn) ? -1 : knn;
    result->linear_accuracy = isnan(linear) ? -1 : linear;
    result->seconds = seconds;
    result->images_per_second = seconds > 0 ? (double)images / seconds : 0;
    result->resumed_step = resumed ? pos.step : 0;
    if (st == SD_OK && !isnan(linear))
        fprintf(out, "  linear probe accuracy %.2f%%\n", 100 * linear);
    return st;
}
