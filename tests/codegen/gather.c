/* tests/codegen/gather.c — Gather and GatherElements: every element size, i32 and i64 indices,
 * negative indices, out-of-range indices (clamped, never a crash), scalar indices, indices smaller
 * than the data, and the shape checks. JIT and constant folding both. */
#include "single_node.h"

static void setup_axis(IrNode *n, void *ctx) { n->attrs.gather.axis = *(const int64_t *)ctx; }

/* Reference index: wrapped once, then clamped. */
static int64_t ref_index(int64_t i, int64_t n)
{
    i = i < 0 ? i + n : i;
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static void *make_data(SdDType dt, int64_t n)
{
    size_t es = sd_dtype_size(dt);
    unsigned char *p = malloc((size_t)n * es);
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = 0x0102030405060708ull * (uint64_t)(i + 1);
        memcpy(p + i * es, &v, es);
    }
    return p;
}

Test(gather, every_element_size_and_index_type)
{
    const SdDType types[] = {SD_DT_U8, SD_DT_BOOL, SD_DT_F16, SD_DT_F32, SD_DT_I32, SD_DT_I64};
    const int64_t dims[3] = {2, 5, 3};
    int64_t idx_oob[6] = {4, -1, 0, -5, 2, 99}; /* last: out of range */
    int32_t idx32[6];
    for (int i = 0; i < 6; i++)
        idx32[i] = (int32_t)idx_oob[i];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t es = sd_dtype_size(types[t]);
        unsigned char *data = make_data(types[t], 30);
        for (int wide = 0; wide < 2; wide++) {
            for (int fold = 0; fold < 2; fold++) {
                int64_t axis = 1;
                SnOperand ops[2] = {{types[t], 3, {2, 5, 3}, data, false},
                                    {wide ? SD_DT_I64 : SD_DT_I32, 2, {2, 3}, wide ? (void *)idx_oob : (void *)idx32, false}};
                RtTensor y;
                SdError err = {0};
                cr_assert_eq(sn_run(IR_OP_GATHER, ops, 2, types[t], setup_axis, &axis, fold, &y, &err), SD_OK, "%s",
                             err.msg);
                cr_assert_eq(y.rank, 4);
                cr_assert(y.dims[0] == 2 && y.dims[1] == 2 && y.dims[2] == 3 && y.dims[3] == 3);
                const unsigned char *got = y.data;
                for (int64_t o = 0; o < 2; o++)
                    for (int64_t k = 0; k < 6; k++)
                        for (int64_t i = 0; i < 3; i++) {
                            int64_t src = (o * dims[1] + ref_index(idx_oob[k], dims[1])) * dims[2] + i;
                            int64_t dst = (o * 6 + k) * 3 + i;
                            cr_assert_eq(memcmp(got + dst * es, data + src * es, es), 0,
                                         "%s %s indices (%s): element %lld", sd_dtype_name(types[t]),
                                         wide ? "i64" : "i32", fold ? "folded" : "jit", (long long)dst);
                        }
                rt_tensor_free(&y);
            }
        }
        free(data);
    }
}

Test(gather, scalar_index_and_first_and_last_axis)
{
    float x[4 * 3];
    sn_fill(x, 12, 1, -1, 1);
    int64_t k = -2;
    for (int64_t axis = -2; axis < 2; axis++) {
        SnOperand ops[2] = {{SD_DT_F32, 2, {4, 3}, x, false}, {SD_DT_I64, 0, {0}, &k, false}};
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(IR_OP_GATHER, ops, 2, SD_DT_F32, setup_axis, &axis, false, &y, &err), SD_OK, "%s", err.msg);
        cr_assert_eq(y.rank, 1);
        int64_t a = axis < 0 ? axis + 2 : axis;
        cr_assert_eq(y.dims[0], a == 0 ? 3 : 4);
        for (int64_t i = 0; i < y.dims[0]; i++) {
            float want = a == 0 ? x[2 * 3 + i] : x[i * 3 + 1];
            cr_assert_eq(((float *)y.data)[i], want, "axis %lld element %lld", (long long)axis, (long long)i);
        }
        rt_tensor_free(&y);
    }
}

Test(gather, elements_with_negative_out_of_range_and_smaller_indices)
{
    const int64_t dd[3] = {3, 4, 5};
    float x[60];
    sn_fill(x, 60, 9, -5, 5);
    const int64_t id[3] = {2, 3, 4}; /* smaller than the data off every axis */
    int64_t idx[24];
    for (int i = 0; i < 24; i++)
        idx[i] = (i * 7) % 13 - 6; /* -6 .. 6: negative, in range and out of range */
    for (int axis = 0; axis < 3; axis++) {
        for (int fold = 0; fold < 2; fold++) {
            int64_t ax = axis;
            SnOperand ops[2] = {{SD_DT_F32, 3, {3, 4, 5}, x, false}, {SD_DT_I64, 3, {2, 3, 4}, idx, false}};
            RtTensor y;
            SdError err = {0};
            cr_assert_eq(sn_run(IR_OP_GATHER_ELEMENTS, ops, 2, SD_DT_F32, setup_axis, &ax, fold, &y, &err), SD_OK, "%s",
                         err.msg);
            cr_assert(y.rank == 3 && y.dims[0] == 2 && y.dims[1] == 3 && y.dims[2] == 4);
            for (int64_t a = 0; a < id[0]; a++)
                for (int64_t b = 0; b < id[1]; b++)
                    for (int64_t c = 0; c < id[2]; c++) {
                        int64_t o = (a * id[1] + b) * id[2] + c;
                        int64_t co[3] = {a, b, c};
                        co[axis] = ref_index(idx[o], dd[axis]);
                        float want = x[(co[0] * dd[1] + co[1]) * dd[2] + co[2]];
                        cr_assert_eq(((float *)y.data)[o], want, "axis %d (%s) element %lld", axis,
                                     fold ? "folded" : "jit", (long long)o);
                    }
            rt_tensor_free(&y);
        }
    }
}

Test(gather, shape_errors_name_the_node)
{
    float x[6] = {0};
    int64_t idx[8] = {0};
    int64_t axis = 0;
    RtTensor y;
    SdError err = {0};
    SnOperand big[2] = {{SD_DT_F32, 2, {2, 3}, x, false}, {SD_DT_I64, 2, {2, 4}, idx, false}};
    cr_assert_eq(sn_run(IR_OP_GATHER_ELEMENTS, big, 2, SD_DT_F32, setup_axis, &axis, false, &y, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "node_under_test") && strstr(err.msg, "larger than the data"), "message was: %s", err.msg);
    SnOperand fidx[2] = {{SD_DT_F32, 2, {2, 3}, x, false}, {SD_DT_F32, 1, {2}, x, false}};
    cr_assert_eq(sn_run(IR_OP_GATHER, fidx, 2, SD_DT_F32, setup_axis, &axis, false, &y, &err), SD_EDTYPE);
    cr_assert(strstr(err.msg, "i64 or i32"), "message was: %s", err.msg);
    axis = 2;
    SnOperand ok[2] = {{SD_DT_F32, 2, {2, 3}, x, false}, {SD_DT_I64, 1, {2}, idx, false}};
    cr_assert_eq(sn_run(IR_OP_GATHER, ok, 2, SD_DT_F32, setup_axis, &axis, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "axis 2"), "message was: %s", err.msg);
}
