// newlib's <sys/reent.h> for the emulated board: glibc has none. The core's heap.cpp only names
// `struct _reent` in the signatures of the newlib hooks (_malloc_r & co.), which glibc never calls.
#pragma once
struct _reent;
