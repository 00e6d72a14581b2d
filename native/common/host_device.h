// CUDALAB_HD marks a function both backends compile: __host__ __device__ and
// always inlined under nvcc, a plain inline function in the C++ build, so the
// cpu kernels' loops still see through it and vectorise.
#pragma once

#if defined(__CUDACC__)
#define CUDALAB_HD __host__ __device__ __forceinline__
#else
#define CUDALAB_HD inline
#endif
