// The CCurl target's wrappers are static inline in include/CCurl.h; this file gives the target a
// translation unit so SwiftPM builds and links it against libcurl.
#include "CCurl.h"
