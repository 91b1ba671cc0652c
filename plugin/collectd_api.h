// The one place that includes collectd's headers (C, written for a C compiler).
#pragma once

extern "C" {
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/configfile.h"
#include "collectd/core/daemon/globals.h"
#include "collectd/core/daemon/plugin.h"
#include "liboconfig/oconfig.h"
}
