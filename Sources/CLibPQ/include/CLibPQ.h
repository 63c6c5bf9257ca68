// libpq's types and prototypes from Debian's libpq-dev, and one function-pointer type per entry
// point that ExperimentStore loads at run time (dlopen/dlsym), as COpenCL does for OpenCL: no binary
// links libpq, so every command but `runs push` and `runs pull` runs where it is missing.
#ifndef CLIBPQ_H
#define CLIBPQ_H

#include <postgresql/libpq-fe.h>

#define CLIBPQ_ENTRY(name) typedef __typeof__(name) *PFN_##name;
CLIBPQ_ENTRY(PQconnectdb)
CLIBPQ_ENTRY(PQstatus)
CLIBPQ_ENTRY(PQerrorMessage)
CLIBPQ_ENTRY(PQfinish)
CLIBPQ_ENTRY(PQexec)
CLIBPQ_ENTRY(PQexecParams)
CLIBPQ_ENTRY(PQresultStatus)
CLIBPQ_ENTRY(PQresultErrorMessage)
CLIBPQ_ENTRY(PQntuples)
CLIBPQ_ENTRY(PQnfields)
CLIBPQ_ENTRY(PQftype)
CLIBPQ_ENTRY(PQgetisnull)
CLIBPQ_ENTRY(PQgetvalue)
CLIBPQ_ENTRY(PQclear)
CLIBPQ_ENTRY(PQputCopyData)
CLIBPQ_ENTRY(PQputCopyEnd)
CLIBPQ_ENTRY(PQgetCopyData)
CLIBPQ_ENTRY(PQgetResult)
CLIBPQ_ENTRY(PQfreemem)
#undef CLIBPQ_ENTRY

#endif
