/* Graphviz DOT export of a network coloured by outcome: red = defaulted,
 * orange = stressed (lost some equity), green = untouched; edges run from
 * debtor to creditor with the amount owed, and re-pledge links are dashed
 * (pledger → holder). */
#include "contagion.h"

xcr_status xcr_contagion_dot(const xcr_network *net,
                             const xcr_entity_result *res, FILE *out,
                             xcr_error *err)
{
    if (!net || !net->finalized || !out)
        return xcr__fail(err, XCR_EINVAL, "network and output are required");
    fputs("digraph contagion {\n  rankdir=LR;\n"
          "  node [shape=box, style=filled, fontname=\"Helvetica\"];\n",
          out);
    for (size_t i = 0; i < net->n; i++) {
        const char *color = "palegreen";
        char label[160];
        if (res && res[i].defaulted) {
            color = "tomato";
            snprintf(label, sizeof label, "%s\\ndefaulted (round %d)",
                     net->id[i], res[i].round);
        } else if (res && res[i].stress > 0) {
            color = "orange";
            snprintf(label, sizeof label, "%s\\nstress %.1f%%", net->id[i],
                     100 * res[i].stress);
        } else {
            snprintf(label, sizeof label, "%s", net->id[i]);
        }
        fprintf(out, "  \"%s\" [label=\"%s\", fillcolor=\"%s\"];\n",
                net->id[i], label, color);
    }
    for (size_t k = 0; k < net->m; k++) {
        char amt[64];
        xcr__fmt_money(net->la[k], amt, sizeof amt);
        bool hit = res && res[net->lf[k]].defaulted;
        fprintf(out, "  \"%s\" -> \"%s\" [label=\"%s\"%s];\n",
                net->id[net->lf[k]], net->id[net->lt[k]], amt,
                hit ? ", color=\"red\"" : "");
    }
    for (size_t k = 0; k < net->nr; k++) {
        char amt[64];
        xcr__fmt_double(net->r_amt[k], amt, sizeof amt);
        fprintf(out,
                "  \"%s\" -> \"%s\" [style=dashed, label=\"re-pledged %s "
                "%s\"];\n",
                net->id[net->r_from[k]], net->id[net->r_to[k]], amt,
                net->asym[net->r_asset[k]]);
    }
    fputs("}\n", out);
    return ferror(out) ? xcr__fail(err, XCR_EIO, "write error") : XCR_OK;
}
