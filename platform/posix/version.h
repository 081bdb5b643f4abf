#pragma once
/// @file version.h
/// Version of the Linux programs. CMake may pass -DSPORE_VERSION="x.y.z" (PROJECT_VERSION).
#ifndef SPORE_VERSION
#define SPORE_VERSION "0.1.0"
#endif
