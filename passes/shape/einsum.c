/* passes/shape/einsum.c — Einsum equations in NumPy's form: comma-separated input terms of
 * letters with at most one "..." each, an optional "->" and output term (without it, the output is
 * the ellipsis dims followed by the letters that occur once, in alphabetical order). Blanks are
 * ignored. The equation is resolved into label ids in the attributes: ellipsis dims are labels
 * 0..R-1, right-aligned and broadcast across operands; letters follow in order of appearance. */
#include <string.h>

#include "passes/shape/shape.h"

typedef struct {
    char text[128];       /* the equation without blanks */
    const char *terms[IR_EINSUM_MAX_INPUTS + 1];
    int term_len[IR_EINSUM_MAX_INPUTS + 1];
    int n_terms;          /* input terms */
    bool explicit_output; /* terms[n_terms] is the output */
} Equation;

static bool is_label(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

#define EQ_ERROR(st, ...) shape_error(c, n, st, "equation '%s': " __VA_ARGS__)

static SdStatus split_equation(ShapeCtx *c, const IrNode *n, Equation *e)
{
    const char *eq = n->attrs.einsum.equation;
    int len = 0;
    for (const char *p = eq; *p; p++)
        if (*p != ' ' && *p != '\t')
            e->text[len++] = *p;
    e->text[len] = 0;
    char *arrow = strstr(e->text, "->");
    e->explicit_output = arrow != NULL;
    int lhs_len = arrow ? (int)(arrow - e->text) : len;
    e->n_terms = 0;
    int start = 0;
    for (int i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && e->text[i] != ',')
            continue;
        if (e->n_terms == IR_EINSUM_MAX_INPUTS)
            return EQ_ERROR(SD_EUNSUPPORTED, "more than %d input terms", eq, IR_EINSUM_MAX_INPUTS);
        e->terms[e->n_terms] = e->text + start;
        e->term_len[e->n_terms++] = i - start;
        start = i + 1;
    }
    if (arrow) {
        e->terms[e->n_terms] = arrow + 2;
        e->term_len[e->n_terms] = (int)strlen(arrow + 2);
    }
    if (e->n_terms != n->n_inputs)
        return EQ_ERROR(SD_EBADMODEL, "%d input term%s for %d input%s", eq, e->n_terms, e->n_terms == 1 ? "" : "s",
                        n->n_inputs, n->n_inputs == 1 ? "" : "s");
    for (int t = 0; t <= e->n_terms; t++) {
        if (t == e->n_terms && !arrow)
            break;
        int dots = 0;
        for (int i = 0; i < e->term_len[t]; i++) {
            char ch = e->terms[t][i];
            if (ch == '.') {
                if (i + 2 >= e->term_len[t] || e->terms[t][i + 1] != '.' || e->terms[t][i + 2] != '.' || dots++)
                    return EQ_ERROR(SD_EBADMODEL, "term '%.*s' has a stray '.' or more than one '...'", eq,
                                    e->term_len[t], e->terms[t]);
                i += 2;
            } else if (!is_label(ch)) {
                return EQ_ERROR(SD_EBADMODEL, "character '%c' is not a letter, ',', '...' or '->'", eq, ch);
            }
        }
    }
    return SD_OK;
}

/* Letters in a term, and whether it has an ellipsis. */
static int count_letters(const char *term, int len, bool *ellipsis)
{
    int k = 0;
    *ellipsis = false;
    for (int i = 0; i < len; i++) {
        if (term[i] == '.') {
            *ellipsis = true;
            i += 2;
        } else {
            k++;
        }
    }
    return k;
}

SdStatus shape_einsum(ShapeCtx *c, IrNode *n)
{
    IrEinsumAttrs *a = &n->attrs.einsum;
    const char *eq = a->equation;
    for (int i = 0; i < n->n_inputs; i++)
        if (!shape_has_input(n, i))
            return shape_error(c, n, SD_EBADMODEL, "input %d is empty", i);
    for (int i = 1; i < n->n_inputs; i++)
        SD_TRY(shape_same_dtype(c, n, 0, i));
    Equation e;
    SD_TRY(split_equation(c, n, &e));

    /* ellipsis ranks */
    int ell_rank[IR_EINSUM_MAX_INPUTS], R = 0;
    for (int t = 0; t < e.n_terms; t++) {
        bool ell;
        int letters = count_letters(e.terms[t], e.term_len[t], &ell);
        int rank = n->inputs[t]->shape.rank;
        ell_rank[t] = rank - letters;
        if (ell ? ell_rank[t] < 0 : ell_rank[t] != 0)
            return EQ_ERROR(SD_ESHAPE, "term '%.*s' does not fit input %d ('%s'), which has rank %d", eq,
                            e.term_len[t], e.terms[t], t, n->inputs[t]->name, rank);
        if (ell_rank[t] > R)
            R = ell_rank[t];
    }

    /* labels: ellipsis dims first, then letters by first appearance */
    int label_of_letter[128];
    for (int i = 0; i < 128; i++)
        label_of_letter[i] = -1;
    int count[IR_EINSUM_MAX_LABELS] = {0};
    memset(a->label_dims, 0, sizeof a->label_dims);
    a->n_labels = R;
    for (int l = 0; l < R; l++)
        a->label_dims[l] = 1;
    for (int t = 0; t < e.n_terms; t++) {
        const IrShape *s = &n->inputs[t]->shape;
        int axis = 0;
        for (int i = 0; i < e.term_len[t]; i++) {
            char ch = e.terms[t][i];
            if (ch == '.') {
                for (int j = 0; j < ell_rank[t]; j++, axis++) {
                    int l = R - ell_rank[t] + j;
                    int64_t d = s->dims[axis];
                    if (d != 1 && a->label_dims[l] != 1 && d != a->label_dims[l])
                        return EQ_ERROR(SD_ESHAPE, "the dims under '...' do not broadcast (%lld vs %lld)", eq,
                                        (long long)d, (long long)a->label_dims[l]);
                    if (d != 1)
                        a->label_dims[l] = d;
                    a->in_labels[t][axis] = (int8_t)l;
                    count[l]++;
                }
                i += 2;
                continue;
            }
            int l = label_of_letter[(int)ch];
            if (l < 0) {
                if (a->n_labels == IR_EINSUM_MAX_LABELS)
                    return EQ_ERROR(SD_EUNSUPPORTED, "more than %d distinct labels", eq, IR_EINSUM_MAX_LABELS);
                l = label_of_letter[(int)ch] = a->n_labels++;
                a->label_dims[l] = s->dims[axis];
            } else if (a->label_dims[l] != s->dims[axis]) {
                return EQ_ERROR(SD_ESHAPE, "label '%c' is %lld in input %d ('%s') but %lld elsewhere", eq, ch,
                                (long long)s->dims[axis], t, n->inputs[t]->name, (long long)a->label_dims[l]);
            }
            a->in_labels[t][axis++] = (int8_t)l;
            count[l]++;
        }
    }

    /* output */
    IrShape y = {0};
    bool in_output[IR_EINSUM_MAX_LABELS] = {0};
    if (e.explicit_output) {
        const char *term = e.terms[e.n_terms];
        bool ell;
        int letters = count_letters(term, e.term_len[e.n_terms], &ell);
        if (letters + (ell ? R : 0) > IR_MAX_RANK)
            return EQ_ERROR(SD_EUNSUPPORTED, "the output would have rank %d (at most %d is supported)", eq,
                            letters + (ell ? R : 0), IR_MAX_RANK);
        for (int i = 0; i < e.term_len[e.n_terms]; i++) {
            char ch = term[i];
            if (ch == '.') {
                for (int l = 0; l < R; l++)
                    a->out_labels[y.rank++] = (int8_t)l, in_output[l] = true;
                i += 2;
                continue;
            }
            int l = label_of_letter[(int)ch];
            if (l < 0)
                return EQ_ERROR(SD_EBADMODEL, "output label '%c' occurs in no input term", eq, ch);
            if (in_output[l])
                return EQ_ERROR(SD_EBADMODEL, "output label '%c' occurs twice", eq, ch);
            in_output[l] = true;
            a->out_labels[y.rank++] = (int8_t)l;
        }
    } else {
        for (int l = 0; l < R; l++)
            a->out_labels[y.rank++] = (int8_t)l;
        for (int ch = 0; ch < 128; ch++) {
            int l = label_of_letter[ch];
            if (l >= 0 && count[l] == 1) {
                if (y.rank == IR_MAX_RANK)
                    return EQ_ERROR(SD_EUNSUPPORTED, "the output would have rank above %d", eq, IR_MAX_RANK);
                a->out_labels[y.rank++] = (int8_t)l;
            }
        }
    }
    for (int i = 0; i < y.rank; i++)
        y.dims[i] = a->label_dims[a->out_labels[i]];
    a->resolved = true;
    shape_set(n, 0, n->inputs[0]->dtype, &y);
    return SD_OK;
}
