/* The liquidation policies and ADL rankings by name. */
#include "cascade.h"

#include <string.h>

const xcr__policy *xcr__policy_find(const char *name)
{
    static const xcr__policy *const all[] = {
        &xcr__policy_exchange, &xcr__policy_aave_v30, &xcr__policy_aave_v33,
        &xcr__policy_aave_v4, &xcr__policy_compound_v3};
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
