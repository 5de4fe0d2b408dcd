// The fault plugin compiled as C++, so that its submit can throw a C++
// exception straight through the raw C ABI (OSAGO_FAULT=cxx_throw).
#include "fault_plugin.c"
