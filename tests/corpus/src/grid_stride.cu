// Grid-stride loops with 64-bit (size_t) indices and counts, the way production kernels
// guard against n >= 2^31; one loop is kept rolled with `#pragma unroll 1`. Compiled twice
// (with -lineinfo and with -G) so the corpus has both kinds of debug directives.

// y[i] = a * x[i] + y[i] for every i < n.
extern "C" __global__ void saxpy_grid_stride(const float *x, float *y, float a, size_t n)
{
    size_t stride = (size_t)blockDim.x * gridDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        y[i] = a * x[i] + y[i];
    }
}

// bins[b] = how many bytes of data equal b (256 bins), counted per block in shared memory.
extern "C" __global__ void byte_histogram(const unsigned char *data, unsigned *bins, size_t n)
{
    __shared__ unsigned local[256];
    for (unsigned b = threadIdx.x; b < 256; b += blockDim.x) {
        local[b] = 0;
    }
    __syncthreads();
    size_t stride = (size_t)blockDim.x * gridDim.x;
#pragma unroll 1
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        atomicAdd(&local[data[i]], 1u);
    }
    __syncthreads();
    for (unsigned b = threadIdx.x; b < 256; b += blockDim.x) {
        atomicAdd(&bins[b], local[b]);
    }
}
