// Headers only: see include/CLibPQ.h.
