// Headers only: see include/COpenCL.h.
