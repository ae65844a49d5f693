/* middleware: the middleware layer's faults. */
#include "faults/fault.h"
#include "faults/layers.h"

const struct fault_type *const fault_types_middleware[] = {
    NULL,
};
