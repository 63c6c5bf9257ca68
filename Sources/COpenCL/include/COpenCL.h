// OpenCL types and prototypes from the system headers, and one function-pointer type per entry
// point that SoftmaxOpenCL loads at run time (dlopen/dlsym), so no binary links libOpenCL and the
// same binary runs where OpenCL is missing.
#ifndef COPENCL_H
#define COPENCL_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h>

#define COPENCL_ENTRY(name) typedef __typeof__(name) *PFN_##name;
COPENCL_ENTRY(clGetPlatformIDs)
COPENCL_ENTRY(clGetPlatformInfo)
COPENCL_ENTRY(clGetDeviceIDs)
COPENCL_ENTRY(clGetDeviceInfo)
COPENCL_ENTRY(clCreateContext)
COPENCL_ENTRY(clCreateCommandQueue)
COPENCL_ENTRY(clReleaseCommandQueue)
COPENCL_ENTRY(clCreateBuffer)
COPENCL_ENTRY(clReleaseMemObject)
COPENCL_ENTRY(clEnqueueWriteBuffer)
COPENCL_ENTRY(clEnqueueReadBuffer)
COPENCL_ENTRY(clEnqueueFillBuffer)
COPENCL_ENTRY(clEnqueueCopyBuffer)
COPENCL_ENTRY(clCreateProgramWithSource)
COPENCL_ENTRY(clBuildProgram)
COPENCL_ENTRY(clGetProgramBuildInfo)
COPENCL_ENTRY(clReleaseProgram)
COPENCL_ENTRY(clCreateKernel)
COPENCL_ENTRY(clReleaseKernel)
COPENCL_ENTRY(clSetKernelArg)
COPENCL_ENTRY(clEnqueueNDRangeKernel)
COPENCL_ENTRY(clFinish)
COPENCL_ENTRY(clGetEventProfilingInfo)
COPENCL_ENTRY(clReleaseEvent)
#undef COPENCL_ENTRY

#endif
