/* tests/common/onnx_builder.h — small ONNX models built in C for tests (protobuf-c structs packed
 * to bytes), so tests need no Python and no checked-in binaries:
 *
 *     TbModel *m = tb_model_new(17);
 *     tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){1, 4});
 *     tb_node(m, "Relu", "relu0", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
 *     tb_output(m, "y", SD_DT_F32);
 *     tb_save(m, path);   // or tb_pack(m, &len)
 */
#ifndef SD_TESTS_ONNX_BUILDER_H
#define SD_TESTS_ONNX_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "support/dtype.h"

typedef struct TbModel TbModel;

TbModel *tb_model_new(int64_t opset);
void tb_model_free(TbModel *m);
/* dims entries < 0 become the symbolic dimension "N" */
void tb_input(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims);
void tb_output(TbModel *m, const char *name, SdDType dt);
/* inputs/outputs: NULL-terminated name lists ("" for an absent optional input) */
void tb_node(TbModel *m, const char *op_type, const char *name, const char *const *inputs,
             const char *const *outputs);
/* attributes on the last node added */
void tb_attr_int(TbModel *m, const char *name, int64_t v);
void tb_attr_float(TbModel *m, const char *name, float v);
void tb_attr_ints(TbModel *m, const char *name, const int64_t *v, int n);
void tb_attr_string(TbModel *m, const char *name, const char *s);
/* initializers: raw_data, typed fields (float_data / int64_data), or an external file */
void tb_init_f32(TbModel *m, const char *name, int rank, const int64_t *dims, const float *data, int typed);
void tb_init_i64(TbModel *m, const char *name, int rank, const int64_t *dims, const int64_t *data);
void tb_init_external(TbModel *m, const char *name, int rank, const int64_t *dims, const char *location,
                      int64_t offset, int64_t length);
/* Lists an initializer as a graph input too (IR version < 4 style). */
void tb_input_from_init(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims);
uint8_t *tb_pack(TbModel *m, size_t *len);
void tb_save(TbModel *m, const char *path);

/* A fresh temporary folder for a test, and a path inside it. */
const char *tb_tmpdir(void);
const char *tb_path(const char *file);
/* The built seedc binary (from SEEDC_BUILD_DIR). */
const char *tb_seedc(void);
/* Runs a shell command, returns its exit status, and captures stderr+stdout into out. */
int tb_run(const char *cmd, char *out, size_t size);

#endif
