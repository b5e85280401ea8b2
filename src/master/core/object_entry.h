#pragma once

// Kept so that existing includes still compile: the views handed to callers now live in
// object_view.h, and the core's own per-object record in object_record.h.

#include "master/core/object_view.h"  // IWYU pragma: export
