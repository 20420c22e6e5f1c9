#ifndef QUICKPAY_CZEROMQ_SHIM_H
#define QUICKPAY_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#endif
