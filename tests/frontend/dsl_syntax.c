/* tests/frontend/dsl_syntax.c — the DSL's lexer, parser and evaluator on small programs: every
 * construct, the values they compute, and the errors a user meets, each with its exact
 * file:line:col and, for unknown names, the suggestion. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/eval.h"

static DslProgram *load(const char *src, SdError *err)
{
    DslProgram *p = NULL;
    dsl_load_string("t.sd", src, &p, err);
    return p;
}

static void expect_load_error(const char *src, const char *want)
{
    SdError err = {0};
    DslProgram *p = load(src, &err);
    cr_expect_null(p, "loaded but should fail with: %s", want);
    cr_expect(strstr(err.msg, want) != NULL, "expected \"%s\"\n  message was: %s", want, err.msg);
    dsl_program_free(p);
}

static const DslValue *global(DslProgram *p, const char *name)
{
    const DslValue *v = dsl_global(p, name);
    cr_assert_not_null(v, "no global '%s'", name);
    return v;
}

static int64_t gint(DslProgram *p, const char *name)
{
    const DslValue *v = global(p, name);
    cr_assert_eq(v->kind, V_INT, "'%s' is %s", name, dsl_kind_name(v->kind));
    return v->u.i;
}

/* Instantiates the file's only model on an input of `dims`; returns the status, err, graph. */
static SdStatus run_model(const char *src, int rank, const int64_t *dims, SdError *err, IrGraph **out)
{
    DslProgram *p = load(src, err);
    *out = NULL;
    if (!p)
        return err->status;
    const DslModel *m;
    SdStatus st = dsl_program_select_model(p, NULL, &m, err);
    IrGraph *g = ir_graph_new("t");
    IrShape s = ir_shape_make(rank, dims);
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s), *outs[DSL_MAX_OUTPUTS];
    int n;
    if (st == SD_OK)
        st = dsl_model_instantiate(m, g, "", x, NULL, outs, &n, err);
    dsl_program_free(p);
    *out = g;
    return st;
}

static void expect_run_error(const char *src, int rank, const int64_t *dims, const char *want)
{
    SdError err = {0};
    IrGraph *g;
    SdStatus st = run_model(src, rank, dims, &err, &g);
    cr_expect_neq(st, SD_OK, "ran but should fail with: %s", want);
    cr_expect(strstr(err.msg, want) != NULL, "expected \"%s\"\n  message was: %s", want, err.msg);
    ir_graph_free(g);
}

#define IMG(c, h, w) 4, (int64_t[]){1, c, h, w}

/* ---- lexer ---- */

Test(dsl_lexer, tokens_with_their_places)
{
    const char *src = "let x = 1_000 + 2.5e-1 // comment\n# a comment line\n  \"a{b}\" 0..4 <= != && || ?";
    DslLexer lx;
    SdError err = {0};
    dsl_lexer_init(&lx, "t.sd", src, strlen(src), 1, 1);
    struct {
        DslTok kind;
        int line, col;
    } want[] = {{T_LET, 1, 1},  {T_IDENT, 1, 5}, {T_ASSIGN, 1, 7}, {T_INT, 1, 9},  {T_PLUS, 1, 15}, {T_FLOAT, 1, 17},
                {T_STRING, 3, 3}, {T_INT, 3, 10}, {T_DOTDOT, 3, 11}, {T_INT, 3, 13}, {T_LE, 3, 15}, {T_NE, 3, 18},
                {T_AND, 3, 21}, {T_OR, 3, 24}, {T_QUESTION, 3, 27}, {T_EOF, 3, 28}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        DslToken t;
        cr_assert_eq(dsl_lex(&lx, &t, &err), SD_OK, "%s", err.msg);
        cr_expect_eq(t.kind, want[i].kind, "token %zu is %s, expected %s", i, dsl_tok_name(t.kind),
                     dsl_tok_name(want[i].kind));
        cr_expect(t.loc.line == want[i].line && t.loc.col == want[i].col, "token %zu at %d:%d, expected %d:%d", i,
                  t.loc.line, t.loc.col, want[i].line, want[i].col);
        if (t.kind == T_INT && i == 3)
            cr_expect_eq(t.i, 1000);
        if (t.kind == T_FLOAT)
            cr_expect_float_eq(t.f, 0.25, 1e-12);
        if (t.kind == T_STRING)
            cr_expect(t.len == 4 && strncmp(t.start, "a{b}", 4) == 0);
        if (i == 6)
            cr_expect(t.newline_before, "a line break precedes the string");
    }
}

Test(dsl_lexer, errors_name_the_place)
{
    expect_load_error("let s = \"abc\nlet t = 1", "t.sd:1:9: unterminated string");
    expect_load_error("let a = 1\nlet b = 2 @ 3", "t.sd:2:11: unexpected character '@'");
    expect_load_error("let a = 12abc", "t.sd:1:9: a number cannot run into a name");
    expect_load_error("let a = 99999999999999999999", "t.sd:1:9: integer 99999999999999999999 does not fit in 64 bits");
    expect_load_error("let a = \"x\\q\"", "t.sd:1:11: unknown escape '\\q'");
    expect_load_error("let a = 1 & 2", "t.sd:1:11: unexpected '&'");
}

/* ---- values and expressions ---- */

Test(dsl_eval, integer_and_float_arithmetic)
{
    SdError err = {0};
    DslProgram *p = load("let a = 7 / 2\nlet b = -7 / 2\nlet c = -7 % 2\nlet d = 1 + 2 * 3 - 4\n"
                         "let e = (1 + 2) * 3\nlet f = 7.0 / 2\nlet g = 2 * 1.5\nlet h = -(3)\nlet i = 10 % 3\n",
                         &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_expect_eq(gint(p, "a"), 3);
    cr_expect_eq(gint(p, "b"), -4, "rounds down, as Python's //");
    cr_expect_eq(gint(p, "c"), 1);
    cr_expect_eq(gint(p, "d"), 3);
    cr_expect_eq(gint(p, "e"), 9);
    cr_expect_float_eq(global(p, "f")->u.f, 3.5, 1e-12);
    cr_expect_eq(global(p, "g")->kind, V_FLOAT);
    cr_expect_eq(gint(p, "h"), -3);
    cr_expect_eq(gint(p, "i"), 1);
    dsl_program_free(p);
}

Test(dsl_eval, logic_comparisons_and_conditionals)
{
    SdError err = {0};
    DslProgram *p = load("let a = 1 < 2 and 2 <= 2\nlet b = not (1 == 1) or false\n"
                         "let c = false and 1 / 0 == 0\n" /* short circuit: no division */
                         "let d = 3 > 2 ? \"yes\" : \"no\"\nlet e = [1, 2] == [1, 2]\nlet f = \"a\" != \"b\"\n"
                         "let g = true && !false || false\n",
                         &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_expect(global(p, "a")->u.b);
    cr_expect(!global(p, "b")->u.b);
    cr_expect(!global(p, "c")->u.b);
    cr_expect_str_eq(global(p, "d")->u.s, "yes");
    cr_expect(global(p, "e")->u.b);
    cr_expect(global(p, "f")->u.b);
    cr_expect(global(p, "g")->u.b);
    dsl_program_free(p);
}

Test(dsl_eval, lists_ranges_strings)
{
    SdError err = {0};
    DslProgram *p = load("let l = [1, 2] + [3]\nlet r = [0] * 3\nlet last = l[-1]\nlet n = len(0..4)\n"
                         "let s = \"layer{1 + 1}.{l[0]}\"\nlet t = \"{{literal}}\"\nlet q = range(2, 10, 3)\n"
                         "let w = [[1, 16], [6, 24]][1][1]\nlet u = \"a\" + \"b\"\n",
                         &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_expect_eq(global(p, "l")->u.list.n, 3);
    cr_expect_eq(global(p, "r")->u.list.n, 3);
    cr_expect_eq(gint(p, "last"), 3);
    cr_expect_eq(gint(p, "n"), 4);
    cr_expect_str_eq(global(p, "s")->u.s, "layer2.1");
    cr_expect_str_eq(global(p, "t")->u.s, "{literal}");
    const DslValue *q = global(p, "q");
    cr_expect(q->u.list.n == 3 && q->u.list.items[2].u.i == 8);
    cr_expect_eq(gint(p, "w"), 24);
    cr_expect_str_eq(global(p, "u")->u.s, "ab");
    dsl_program_free(p);
}

Test(dsl_eval, builtin_functions)
{
    SdError err = {0};
    DslProgram *p = load("let a = make_divisible(32 * 0.75)\nlet b = make_divisible(960 / 4, 8)\n"
                         "let c = make_divisible(3, 8)\nlet d = round(2.5)\nlet e = round(3.5)\nlet f = ceil(1.2 * 3)\n"
                         "let g = floor(-0.5)\nlet h = min([4, 2, 9])\nlet i = max(3, 7.5)\nlet j = int(-2.7)\n"
                         "let k = abs(-4)\nlet l = str(12)\nlet m = sqrt(16)\nlet n = make_divisible(100 * 0.35)\n"
                         "let o = make_divisible(10)\n",
                         &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_expect_eq(gint(p, "a"), 24);
    cr_expect_eq(gint(p, "b"), 240);
    cr_expect_eq(gint(p, "c"), 8, "at least the divisor");
    cr_expect_eq(gint(p, "d"), 2, "halves to even");
    cr_expect_eq(gint(p, "e"), 4);
    cr_expect_eq(gint(p, "f"), 4);
    cr_expect_eq(gint(p, "g"), -1);
    cr_expect_eq(gint(p, "h"), 2);
    cr_expect_float_eq(global(p, "i")->u.f, 7.5, 1e-12);
    cr_expect_eq(gint(p, "j"), -2);
    cr_expect_eq(gint(p, "k"), 4);
    cr_expect_str_eq(global(p, "l")->u.s, "12");
    cr_expect_float_eq(global(p, "m")->u.f, 4.0, 1e-12);
    cr_expect_eq(gint(p, "n"), 32);
    cr_expect_eq(gint(p, "o"), 16, "10 rounds to 8, more than 10%% below 10: one divisor more");
    dsl_program_free(p);
}

Test(dsl_eval, value_errors)
{
    expect_load_error("let width = 64\nlet w2 = widht * 2", "t.sd:2:10: unknown name 'widht'; did you mean 'width'?");
    expect_load_error("let a = 9223372036854775807 + 1", "t.sd:1:29: integer overflow");
    expect_load_error("let a = 1\nlet b = a / (a - 1)", "t.sd:2:11: integer division by zero");
    expect_load_error("let a = 1 + \"x\"", "t.sd:1:11: '+' does not apply to an integer and a string");
    expect_load_error("let a = [1, 2][5]", "t.sd:1:16: index 5 is out of range for a list of 2");
    expect_load_error("let a = 1 ? 2 : 3", "t.sd:1:9: the condition of '? :' must be true or false, not an integer");
    expect_load_error("let a = len(3)", "t.sd:1:9: len: needs a list or a string, not an integer");
    expect_load_error("let a = lne([1])", "t.sd:1:9: unknown layer, block or function 'lne'; did you mean 'len'?");
    expect_load_error("let a = range(1, 2, 0)", "t.sd:1:21: range: the step cannot be 0");
    expect_load_error("let a = 1 < 2 < 3", "t.sd:1:15: comparisons do not chain");
    expect_load_error("let a = conv", "t.sd:1:9: 'conv' is a block or layer: call it");
}

/* ---- parsing ---- */

Test(dsl_parse, every_construct)
{
    const char *src =
        "import \"/dev/null\"\n" /* an empty file imports nothing but parses */
        "let base = 8\n"
        "block twice(x, w = base) {\n"
        "    scope \"pair\" { x = relu(conv(x, w, 3)); x = relu(conv(x, w, 3)) }\n"
        "    return x\n"
        "}\n"
        "block both(x) { return x, x }\n"
        "model m(depth = 2, wide = false) {\n"
        "    input img: [3, 16, 16]\n"
        "    x = img\n"
        "    for i in 0..depth {\n"
        "        if i == 0 { x = twice(x) } else if wide { x = twice(x, w = 16) } else { x = twice(x, base) }\n"
        "    }\n"
        "    repeat 2 { x = relu(x) }\n"
        "    a, b = both(x)\n"
        "    x = a + b * 2 - a / 4\n"
        "    y = flatten(gap(x))\n"
        "    return features = y, logits = linear(y, 10)\n"
        "}\n";
    SdError err = {0};
    IrGraph *g;
    cr_assert_eq(run_model(src, IMG(3, 16, 16), &err, &g), SD_OK, "%s", err.msg);
    cr_expect_not_null(ir_graph_find_value(g, "0.pair.0.weight"), "first block, scope 'pair', first conv");
    cr_expect_not_null(ir_graph_find_value(g, "1.pair.2.weight"), "second block call: position 1");
    cr_expect_not_null(ir_graph_find_value(g, "6.weight"), "the linear after 2 blocks, 2 relus, gap, flatten ('both' builds nothing)");
    ir_graph_free(g);
}

Test(dsl_parse, syntax_errors_name_the_place)
{
    expect_load_error("model m {\n  input x: [1, 2]\n  y = conv(x, 8, 3\n  return y\n}",
                      "t.sd:4:3: expected ',' or ')' in the arguments of 'conv', found 'return'");
    expect_load_error("block b(x) {\n  return x\n", "t.sd:1:12: this '{' is never closed");
    expect_load_error("block b x) { return x }", "t.sd:1:9: expected '(' and the block's parameters");
    expect_load_error("block b(x) { return conv(x, out = 8, 3) }",
                      "t.sd:1:38: a positional argument cannot follow keyword arguments in the call of 'conv'");
    expect_load_error("block b(x) { return relu(x, x = 1, x = 2) }", "t.sd:1:36: argument 'x' is given twice");
    expect_load_error("block b(x) {\n  x + 1\n}", "t.sd:2:3: a statement is an assignment");
    expect_load_error("block b(x) { y = 1 z = 2 }", "t.sd:1:20: expected a line break or ';' after the statement");
    expect_load_error("block b(x, y = 1, z) { return x }", "t.sd:1:19: parameter 'z' has no default but follows one");
    expect_load_error("frobnicate", "t.sd:1:1: expected 'import', 'let', 'block', 'model' or 'experiment', found 'frobnicate'");
    expect_load_error("let s = \"a{1 +}\"", "t.sd:1:15: expected a value");
    expect_load_error("let s = \"a{1\"", "t.sd:1:11: '{' without '}' in a string");
    expect_load_error("model m { input x: [] }", "t.sd:1:20: an input shape has 1 to 7 dimensions");
    expect_load_error("model m {\n  input x [3]\n}", "t.sd:2:11: expected ':' between the input's name and its shape");
    expect_load_error("import model", "t.sd:1:8: expected a file name in quotes after 'import'");
    expect_load_error("import \"no/such/file.sd\"", "t.sd:1:1: cannot import 'no/such/file.sd'");
}

Test(dsl_parse, declaration_errors)
{
    expect_load_error("block b(x) { return x }\nmodel b { input x: [1] }",
                      "t.sd:2:7: 'b' is declared twice: first as a block at t.sd:1:7");
    expect_load_error("block conv(x) { return x }", "t.sd:1:7: 'conv' is a built-in layer or function");
    expect_load_error("block b(x, name) { return x }", "t.sd:1:12: a parameter cannot be called 'name'");
    expect_load_error("model m { x = 1 }", "t.sd:1:7: model 'm' declares no input");
    expect_load_error("block b(x) {\n  input y: [3]\n  return x\n}", "t.sd:2:3: 'input' belongs at the top level of a model");
    expect_load_error("model m {\n  input x: [3]\n  input y: [3]\n}", "t.sd:3:3: a model has one input; this is a second");
}

Test(dsl_parse, hostile_nesting_is_an_error_not_a_crash)
{
    char src[8192] = "let a = ";
    for (int i = 0; i < 1000; i++)
        strcat(src, "(");
    expect_load_error(src, "nested too deeply");
    char src2[8192] = "let a = ";
    for (int i = 0; i < 1000; i++)
        strcat(src2, "-");
    strcat(src2, "1");
    expect_load_error(src2, "nested too deeply");
}

/* ---- models: the errors of lowering ---- */

Test(dsl_model_errors, unknown_names_get_suggestions)
{
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return covn(x, 8, 3)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: unknown layer, block or function 'covn'; did you mean 'conv'?");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8, 3, strid = 2)\n}", IMG(3, 8, 8),
                     "t.sd:3:24: conv has no argument 'strid'; did you mean 'stride'?");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  y = relu(x)\n  return relu(yy)\n}", IMG(3, 8, 8),
                     "t.sd:4:15: unknown name 'yy'; did you mean 'y'?");
    expect_run_error("block blk(x, width) { return conv(x, width, 3) }\n"
                     "model m {\n  input x: [3, 8, 8]\n  return blk(x, widht = 4)\n}",
                     IMG(3, 8, 8), "t.sd:4:17: 'blk' has no parameter 'widht'; did you mean 'width'?");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8, 3, init = \"kaiming\")\n}", IMG(3, 8, 8),
                     "t.sd:3:24: conv: unknown init 'kaiming'; did you mean 'kaiming_out'?");
}

Test(dsl_model_errors, arguments_and_shapes)
{
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: conv needs argument 'kernel'");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8, 3, groups = 2)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: conv: groups = 2 must divide the input channels (3) and the output channels (8)");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8, 11, pad = 0)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: conv: the 11x11 kernel does not fit the input [1,3,8,8]");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 8, \"3\")\n}", IMG(3, 8, 8),
                     "t.sd:3:21: conv: argument 'kernel' must be an integer or a list of 2 integers, not a string");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return linear(flatten(x), 0)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: linear: 0 output features; at least 1 is needed");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return linear(flatten(x), 10) + conv(x, 4, 1)\n}", IMG(3, 8, 8),
                     "t.sd:3:33: shapes [1,10] and [1,4,8,8] do not broadcast");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return x\n}", IMG(1, 8, 8),
                     "t.sd:2:3: input 'x' is [1,1,8,8], but the model declares [3,8,8]");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  if channels(x) { return x }\n  return x\n}", IMG(3, 8, 8),
                     "t.sd:3:6: the condition of 'if' must be true or false, not an integer");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  y = relu(x)\n}", IMG(3, 8, 8),
                     "t.sd:1:7: model 'm' returns nothing");
    expect_run_error("block b(x) { return relu(x) }\nmodel m {\n  input x: [3, 8, 8]\n  y = b(x)\n}", IMG(3, 8, 8),
                     "t.sd:2:7: model 'm' returns nothing");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return 3\n}", IMG(3, 8, 8),
                     "t.sd:3:10: a model returns tensors; this is an integer");
}

Test(dsl_model_errors, errors_inside_blocks_show_the_calls)
{
    expect_run_error("block inner(x) {\n  return conv(x, 8, 3, groups = 5)\n}\n"
                     "block outer(x) { return inner(x) }\n"
                     "model m {\n  input x: [3, 8, 8]\n  return outer(x)\n}",
                     IMG(3, 8, 8),
                     "t.sd:2:10: conv: groups = 5 must divide the input channels (3) and the output channels (8) "
                     "(in 'inner' called at t.sd:4:25, 'outer' called at t.sd:7:10)");
}

Test(dsl_model_errors, names_recursion_and_budgets)
{
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  y = conv(x, 3, 1, name = \"c\")\n  return conv(y, 3, 1, name = \"c\")\n}",
                     IMG(3, 8, 8), "t.sd:4:10: a tensor named 'c.weight' exists already");
    expect_run_error("block b(x) { return b(x) }\nmodel m {\n  input x: [3, 8, 8]\n  return b(x)\n}", IMG(3, 8, 8),
                     "calls nest more than 64 deep: does 'b' call itself?");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  for i in 0..100000 { for j in 0..1000 { k = j } }\n  return x\n}",
                     IMG(3, 8, 8), "the program runs more than 10000000 steps: is a loop bound wrong?");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return relu(x, name = \"a b\")\n}", IMG(3, 8, 8),
                     "t.sd:3:18: 'a b' is not a layer name");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  assert(channels(x) == 1, \"gray images only\")\n  return x\n}",
                     IMG(3, 8, 8), "t.sd:3:3: gray images only");
}

Test(dsl_model, selecting_models)
{
    SdError err = {0};
    DslProgram *p = load("model resnet_a { input x: [1] \n return x }\nmodel resnet_b { input x: [1]\n return x }", &err);
    cr_assert_not_null(p, "%s", err.msg);
    const DslModel *m;
    cr_expect_neq(dsl_program_select_model(p, NULL, &m, &err), SD_OK);
    cr_expect(strstr(err.msg, "t.sd declares 2 models (resnet_a, resnet_b): choose one with --model NAME"), "%s", err.msg);
    cr_expect_neq(dsl_program_select_model(p, "resnet_c", &m, &err), SD_OK);
    cr_expect(strstr(err.msg, "no model 'resnet_c'; did you mean 'resnet_a'?"), "%s", err.msg);
    cr_expect_eq(dsl_program_select_model(p, "resnet_b", &m, &err), SD_OK);
    cr_expect_str_eq(dsl_model_name(m), "resnet_b");
    dsl_program_free(p);
}

Test(dsl_args, parse_and_format)
{
    SdError err = {0};
    DslArgValue a;
    char buf[256];
    cr_assert_eq(dsl_arg_parse("widths=[16, 32, 64, 128]", &a, &err), SD_OK, "%s", err.msg);
    cr_expect(a.kind == DSL_VAL_INTS && a.n == 4 && a.ints[3] == 128);
    dsl_arg_format(&a, buf, sizeof buf);
    cr_expect_str_eq(buf, "widths=[16, 32, 64, 128]");
    cr_assert_eq(dsl_arg_parse("stem=\"small\"", &a, &err), SD_OK);
    cr_expect(a.kind == DSL_VAL_STRING && strcmp(a.s, "small") == 0);
    cr_assert_eq(dsl_arg_parse("mult=0.5", &a, &err), SD_OK);
    cr_expect(a.kind == DSL_VAL_FLOAT && a.f == 0.5);
    cr_assert_eq(dsl_arg_parse("deep=true", &a, &err), SD_OK);
    cr_expect(a.kind == DSL_VAL_BOOL && a.b);
    cr_expect_eq(dsl_arg_parse("oops", &a, &err), SD_EUSAGE);
    cr_expect(strstr(err.msg, "expected NAME=VALUE"), "%s", err.msg);
    cr_expect_eq(dsl_arg_parse("l=[[1]]", &a, &err), SD_EUSAGE);
    cr_expect(strstr(err.msg, "holds numbers only"), "%s", err.msg);
}

Test(dsl_robustness, hostile_sizes_stop_before_allocation)
{
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return conv(x, 100000, 100)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: parameter '0.weight' would have shape [100000,3,100,100]: more than 268435456 elements");
    expect_run_error("model m {\n  input x: [3, 8, 8]\n  return linear(flatten(x), 1000000000)\n}", IMG(3, 8, 8),
                     "t.sd:3:10: parameter '1.weight' would have shape [1000000000,192]: more than");
    /* (the limit on a whole model, 2^29 elements, needs gigabytes to reach: not exercised here) */
}

/* Every prefix and many byte flips of a real model file: an error or a program, never a crash. */
Test(dsl_robustness, survives_truncated_and_mutated_files)
{
    const char *base = "import \"/dev/null\"\nlet w = [16, 32]\n"
                       "block b(x, c, s = 1) {\n  y = relu(bn(conv(x, c, 3, stride = s, name = \"c{s}\")))\n"
                       "  if s != 1 or channels(x) != c { scope \"d\" { x = conv(x, c, 1, stride = s) } }\n"
                       "  return x + y\n}\n"
                       "model m(k = 2) {\n  input x: [3, 8, 8]\n  for i in 0..len(w) { x = b(x, w[i], i == 0 ? 1 : k) }\n"
                       "  return logits = linear(flatten(gap(x)), 10)\n}\n"
                       "experiment e { epochs = 1; data { dataset = \"mnist\" }; network student { model = m() }; method supervised {} }\n";
    size_t n = strlen(base);
    char buf[2048];
    uint64_t r = 12345;
    for (size_t cut = 0; cut <= n; cut++) {
        memcpy(buf, base, cut);
        buf[cut] = 0;
        SdError err = {0};
        DslProgram *p = load(buf, &err);
        cr_assert(p || err.msg[0], "no message for a prefix of %zu bytes", cut);
        dsl_program_free(p);
    }
    static const char alphabet[] = "{}()[],;:=.+-*/%<>!?\"\\ \n#0123456789abcxyz_";
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, base, n + 1);
        for (int k = 0; k < 3; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            buf[(r >> 33) % n] = alphabet[(r >> 17) % (sizeof alphabet - 1)];
        }
        SdError err = {0};
        DslProgram *p = load(buf, &err);
        if (p) { /* still a program: build it too */
            const DslModel *m = dsl_program_find_model(p, "m");
            if (m) {
                IrGraph *g = ir_graph_new("t");
                IrShape s = ir_shape_make(4, (int64_t[]){1, 3, 8, 8});
                IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s), *outs[DSL_MAX_OUTPUTS];
                int no;
                dsl_model_instantiate(m, g, "", x, NULL, outs, &no, &err);
                ir_graph_free(g);
            }
            DslExperiment *e = NULL;
            if (dsl_experiment_load(p, NULL, &e, &err) == SD_OK)
                dsl_experiment_free(e);
        } else {
            cr_assert(err.msg[0], "no message for: %s", buf);
        }
        dsl_program_free(p);
    }
}
