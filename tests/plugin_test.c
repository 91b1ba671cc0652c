/* Unit tests of bm6.so against collectd's C API, mocked with cmocka: the real plugin is
 * dlopen()ed and resolves plugin_register_*, plugin_dispatch_values and plugin_log from
 * this executable. Dispatch tests talk to a real bm6-sim over a Unix socket. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"
#include "liboconfig/oconfig.h"
#include "shim/fake_mgmt_kernel.h"

/* ---- the mocked collectd API ---- */

static int (*config_cb)(oconfig_item_t *);
static plugin_init_cb init_cb;
static plugin_shutdown_cb shutdown_cb;

#define MAX_READS 8
static struct {
  char name[64];
  plugin_read_cb cb;
  user_data_t ud;
} reads[MAX_READS];
static int reads_num;

#define MAX_DISPATCH 1024
static struct {
  char plugin[DATA_MAX_NAME_LEN], instance[DATA_MAX_NAME_LEN], type[DATA_MAX_NAME_LEN],
      type_instance[DATA_MAX_NAME_LEN];
  double value;
  cdtime_t time;
} dispatched[MAX_DISPATCH];
static int dispatched_num;

#define MAX_LOG 256
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  int level;
  char msg[1024];
} logged[MAX_LOG];
static int logged_num;

static cdtime_t test_interval = ((cdtime_t)1) << 30; /* 1 s */

char *hostname_g = "testhost";

/* collectd's global options, as far as the plugin asks: BaseDir. */
static char base_dir[128] = "/tmp";
const char *global_option_get(const char *option) {
  return strcmp(option, "BaseDir") == 0 ? base_dir : NULL;
}

#define MAX_NOTIF 32
static struct {
  int severity;
  char host[DATA_MAX_NAME_LEN], plugin[DATA_MAX_NAME_LEN], instance[DATA_MAX_NAME_LEN];
  char message[NOTIF_MAX_MSG_LEN];
} notified[MAX_NOTIF];
static int notified_num;

/* Called from the plugin's I/O thread: recorded under the log lock. */
int plugin_dispatch_notification(const notification_t *n) {
  pthread_mutex_lock(&log_lock);
  if (notified_num < MAX_NOTIF) {
    notified[notified_num].severity = n->severity;
    snprintf(notified[notified_num].host, DATA_MAX_NAME_LEN, "%s", n->host);
    snprintf(notified[notified_num].plugin, DATA_MAX_NAME_LEN, "%s", n->plugin);
    snprintf(notified[notified_num].instance, DATA_MAX_NAME_LEN, "%s", n->plugin_instance);
    snprintf(notified[notified_num].message, NOTIF_MAX_MSG_LEN, "%s", n->message);
    notified_num++;
  }
  pthread_mutex_unlock(&log_lock);
  return 0;
}

int plugin_register_complex_config(const char *type, int (*cb)(oconfig_item_t *)) {
  check_expected(type);
  config_cb = cb;
  return 0;
}

int plugin_register_init(const char *name, plugin_init_cb cb) {
  check_expected(name);
  init_cb = cb;
  return 0;
}

int plugin_register_shutdown(const char *name, plugin_shutdown_cb cb) {
  check_expected(name);
  shutdown_cb = cb;
  return 0;
}

int plugin_register_complex_read(const char *group, const char *name, plugin_read_cb cb,
                                 cdtime_t interval, user_data_t const *ud) {
  check_expected(group);
  check_expected(name);
  check_expected(interval);
  int rc = mock_type(int);
  if (rc == 0) {
    assert_true(reads_num < MAX_READS);
    snprintf(reads[reads_num].name, sizeof reads[reads_num].name, "%s", name);
    reads[reads_num].cb = cb;
    reads[reads_num].ud = *ud;
    reads_num++;
  }
  return rc;
}

int plugin_unregister_read_group(const char *group) {
  assert_string_equal(group, "bm6");
  for (int i = 0; i < reads_num; i++)
    if (reads[i].ud.free_func) reads[i].ud.free_func(reads[i].ud.data);
  reads_num = 0;
  return 0;
}

int plugin_dispatch_values(value_list_t const *vl) {
  assert_true(dispatched_num < MAX_DISPATCH);
  assert_int_equal(vl->values_len, 1);
  snprintf(dispatched[dispatched_num].plugin, DATA_MAX_NAME_LEN, "%s", vl->plugin);
  snprintf(dispatched[dispatched_num].instance, DATA_MAX_NAME_LEN, "%s", vl->plugin_instance);
  snprintf(dispatched[dispatched_num].type, DATA_MAX_NAME_LEN, "%s", vl->type);
  snprintf(dispatched[dispatched_num].type_instance, DATA_MAX_NAME_LEN, "%s", vl->type_instance);
  dispatched[dispatched_num].value =
      strcmp(vl->type, "derive") == 0 ? (double)vl->values[0].derive : vl->values[0].gauge;
  dispatched[dispatched_num].time = vl->time;
  dispatched_num++;
  return 0;
}

/* Backfilled records go to the writers directly: recorded like dispatched values. */
int plugin_write(const char *plugin, const data_set_t *ds, const value_list_t *vl) {
  (void)plugin;
  (void)ds;
  return plugin_dispatch_values(vl);
}

static void vlog(int level, const char *format, va_list ap) {
  pthread_mutex_lock(&log_lock);
  if (logged_num < MAX_LOG) {
    logged[logged_num].level = level;
    vsnprintf(logged[logged_num].msg, sizeof logged[logged_num].msg, format, ap);
    logged_num++;
  }
  pthread_mutex_unlock(&log_lock);
}

void plugin_log(int level, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vlog(level, format, ap);
  va_end(ap);
}

cdtime_t plugin_get_interval(void) { return test_interval; }

static int thread_create_fails; /* set by a test: plugin_thread_create returns this */

int plugin_thread_create(pthread_t *thread, void *(*start)(void *), void *arg, char const *name) {
  (void)name;
  if (thread_create_fails) return thread_create_fails;
  return pthread_create(thread, NULL, start, arg);
}

/* ---- a fake kernel for passive devices ----
 * The plugin opens its mgmt socket with socket(PF_BLUETOOTH, SOCK_RAW | SOCK_NONBLOCK, ..,
 * BTPROTO_HCI) and bind(). This executable exports both, so when a test sets fake_mgmt_on
 * the plugin's next such socket is one end of a socketpair and the test plays the kernel
 * on the other (tests/shim/fake_mgmt_kernel.c answers as a powered hci0; the test sends
 * Device Found). */
static int fake_mgmt_on;
static int fake_mgmt_plugin = -1, fake_mgmt_kernel = -1;
static char mgmt_removed[8][18];                 /* the addresses of Remove Device, as written */
static char passive_dir[64], passive_record[96]; /* StateDir, and the scanner's record in it */
static void remove_passive_dir(void);
static void file_is(const char *path, const char *want);
static int mgmt_removed_num;

int socket(int domain, int type, int protocol) {
  static int (*real_socket)(int, int, int);
  if (!real_socket) *(void **)&real_socket = dlsym(RTLD_NEXT, "socket");
  if (__atomic_load_n(&fake_mgmt_on, __ATOMIC_ACQUIRE) && domain == kFakeMgmtPfBluetooth &&
      protocol == kFakeMgmtBtprotoHci && (type & SOCK_NONBLOCK) &&
      __atomic_load_n(&fake_mgmt_plugin, __ATOMIC_ACQUIRE) < 0) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    __atomic_store_n(&fake_mgmt_kernel, sv[1], __ATOMIC_RELEASE);
    __atomic_store_n(&fake_mgmt_plugin, sv[0], __ATOMIC_RELEASE);
    return sv[0];
  }
  return real_socket(domain, type, protocol);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_bind)(int, const struct sockaddr *, socklen_t);
  if (!real_bind) *(void **)&real_bind = dlsym(RTLD_NEXT, "bind");
  if (fd >= 0 && fd == __atomic_load_n(&fake_mgmt_plugin, __ATOMIC_ACQUIRE)) return 0;
  return real_bind(fd, addr, len);
}

/* After the plugin's shutdown (it has closed its end): no later fd is taken for it. */
static void fake_mgmt_reset(void) {
  __atomic_store_n(&fake_mgmt_on, 0, __ATOMIC_RELEASE);
  mgmt_removed_num = 0;
  if (fake_mgmt_kernel >= 0) close(fake_mgmt_kernel);
  __atomic_store_n(&fake_mgmt_kernel, -1, __ATOMIC_RELEASE);
  __atomic_store_n(&fake_mgmt_plugin, -1, __ATOMIC_RELEASE);
}

/* Remove Device's address, as written, into mgmt_removed. */
static void note_removed(uint16_t opcode, const uint8_t *a, size_t n, void *ctx) {
  (void)ctx;
  if (opcode != kFakeMgmtOpRemoveDevice || n < 7 || mgmt_removed_num >= 8) return;
  snprintf(mgmt_removed[mgmt_removed_num++], 18, "%02X:%02X:%02X:%02X:%02X:%02X", a[5], a[4], a[3],
           a[2], a[1], a[0]); /* least significant byte first */
}

/* Answers what the plugin asked so far as a powered hci0 (tests/shim/fake_mgmt_kernel.c).
 * Returns how many Read Controller Information it answered. */
static int mgmt_answer(void) { return fake_mgmt_answer(fake_mgmt_kernel, note_removed, NULL); }

/* Device Found from `wire_address` (least significant byte first), RSSI -67, with the
 * manufacturer data `data` (16 bytes) after the Flags. */
static void mgmt_device_found(const uint8_t wire_address[6], const uint8_t data[16]) {
  uint8_t ad[5 + 16] = {0x02, 0x01, 0x06, 0x11, 0xff};
  memcpy(ad + 5, data, 16);
  assert_int_equal(fake_mgmt_device_found(fake_mgmt_kernel, wire_address, -67, ad, sizeof ad), 0);
}

/* ---- helpers ---- */

static int count_logs(int level, const char *needle) {
  int n = 0;
  pthread_mutex_lock(&log_lock);
  for (int i = 0; i < logged_num; i++)
    if ((level < 0 || logged[i].level == level) && strstr(logged[i].msg, needle)) n++;
  pthread_mutex_unlock(&log_lock);
  return n;
}

static void print_logs(void) {
  pthread_mutex_lock(&log_lock);
  for (int i = 0; i < logged_num; i++)
    fprintf(stderr, "  log[%d] %s\n", logged[i].level, logged[i].msg);
  pthread_mutex_unlock(&log_lock);
}

/* Each of `want` logged exactly once at `severity`, and no other line of the plugin's at it. */
static void expect_each_once(int severity, const char *const *want, int n) {
  for (int i = 0; i < n; i++) {
    if (count_logs(severity, want[i]) != 1) {
      print_logs();
      fail_msg("expected exactly one line at severity %d containing: %s", severity, want[i]);
    }
  }
  if (count_logs(severity, "bm6 plugin:") != n) print_logs();
  assert_int_equal(count_logs(severity, "bm6 plugin:"), n);
}

static oconfig_item_t *item(const char *key) {
  oconfig_item_t *ci = calloc(1, sizeof *ci);
  ci->key = strdup(key);
  return ci;
}

static void add_child(oconfig_item_t *parent, oconfig_item_t *child) {
  parent->children = realloc(parent->children, sizeof(oconfig_item_t) * (parent->children_num + 1));
  parent->children[parent->children_num] = *child;
  parent->children[parent->children_num].parent = parent;
  parent->children_num++;
  free(child);
}

static oconfig_item_t *with_string(oconfig_item_t *ci, const char *s) {
  ci->values = realloc(ci->values, sizeof(oconfig_value_t) * (ci->values_num + 1));
  ci->values[ci->values_num].type = OCONFIG_TYPE_STRING;
  ci->values[ci->values_num].value.string = strdup(s);
  ci->values_num++;
  return ci;
}

static oconfig_item_t *with_number(oconfig_item_t *ci, double d) {
  ci->values = realloc(ci->values, sizeof(oconfig_value_t) * (ci->values_num + 1));
  ci->values[ci->values_num].type = OCONFIG_TYPE_NUMBER;
  ci->values[ci->values_num].value.number = d;
  ci->values_num++;
  return ci;
}

static oconfig_item_t *with_boolean(oconfig_item_t *ci, int b); /* with the backfill tests */

static oconfig_item_t *device(const char *name, const char *address) {
  oconfig_item_t *d = with_string(item("Device"), name);
  if (address) add_child(d, with_string(item("Address"), address));
  return d;
}

static void free_item(oconfig_item_t *ci, int free_self) {
  for (int i = 0; i < ci->values_num; i++)
    if (ci->values[i].type == OCONFIG_TYPE_STRING) free(ci->values[i].value.string);
  free(ci->values);
  for (int i = 0; i < ci->children_num; i++) free_item(&ci->children[i], 0);
  free(ci->children);
  free(ci->key);
  if (free_self) free(ci);
}

static int load_plugin(void **state) {
  (void)state;
  void *so = dlopen(BM6_SO_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!so) fail_msg("dlopen: %s", dlerror());
  void (*module_register)(void) = (void (*)(void))dlsym(so, "module_register");
  assert_non_null(module_register);
  expect_string(plugin_register_complex_config, type, "bm6");
  expect_string(plugin_register_init, name, "bm6");
  expect_string(plugin_register_shutdown, name, "bm6");
  module_register();
  assert_non_null(config_cb);
  assert_non_null(init_cb);
  assert_non_null(shutdown_cb);
  return 0;
}

static int setup(void **state) {
  (void)state;
  reads_num = 0;
  dispatched_num = 0;
  logged_num = 0;
  notified_num = 0;
  thread_create_fails = 0;
  test_interval = ((cdtime_t)1) << 30;
  return 0;
}

static pid_t running_sim = -1;

static int teardown(void **state) {
  (void)state;
  if (running_sim > 0) { /* a test that failed half-way left its simulator */
    kill(running_sim, SIGKILL);
    waitpid(running_sim, NULL, 0);
    running_sim = -1;
  }
  assert_int_equal(shutdown_cb(), 0);
  fake_mgmt_reset();
  if (passive_dir[0] != '\0') { /* a passive test that failed half-way left its StateDir */
    unlink(passive_record);
    rmdir(passive_dir);
    passive_dir[0] = '\0';
  }
  return 0;
}

static void expect_read(const char *name, cdtime_t interval) {
  expect_string(plugin_register_complex_read, group, "bm6");
  expect_string(plugin_register_complex_read, name, name);
  expect_value(plugin_register_complex_read, interval, interval);
  will_return(plugin_register_complex_read, 0);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static pid_t start_sim(const char *path, char *const extra[]) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char *argv[32];
    int n = 0;
    argv[n++] = "bm6-sim";
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n++] = "--socket";
    argv[n++] = (char *)path;
    argv[n] = NULL;
    /* Nothing of the test runner's: a pipe kept open by a stray child stalls whoever
     * reads the runner's output. */
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execv(BM6_SIM_PATH, argv);
    _exit(127);
  }
  running_sim = pid;
  struct stat st;
  /* The socket appears once it accepts (bm6-sim renames it into place); up to 10 s. */
  for (int i = 0; i < 1000 && stat(path, &st) != 0; i++) sleep_ms(10);
  return pid;
}

static void stop_sim(pid_t pid) {
  kill(pid, SIGCONT);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  running_sim = -1;
}

/* ---- tests ---- */

static void passive_mode_config_mistakes_are_errors(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("Mode"), "sniff")); /* 1 */
  oconfig_item_t *sock = device("sock", "unix:/tmp/passive.sock");
  add_child(sock, with_string(item("Mode"), "passive")); /* 2 */
  add_child(block, sock);
  oconfig_item_t *num = device("num", "AA:BB:CC:DD:EE:02");
  add_child(num, with_number(item("Mode"), 1));                  /* 3 */
  add_child(num, with_string(item("PassiveTimeout"), "thirty")); /* 4 */
  add_child(block, num);
  oconfig_item_t *quick = device("quick", "AA:BB:CC:DD:EE:03");
  add_child(quick, with_string(item("Mode"), "PASSIVE"));
  add_child(quick, with_number(item("PassiveTimeout"), 0)); /* 5 */
  add_child(block, quick);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "option \"Mode\": \"sniff\" is neither \"connected\" nor \"passive\"",
      ("device \"sock\": option \"Address\": Mode \"passive\" reads Bluetooth advertisements, so "
       "it needs a Bluetooth address (AA:BB:CC:DD:EE:FF), not \"unix:/tmp/passive.sock\""),
      "device \"num\": option \"Mode\" needs exactly one quoted string, not a number",
      "device \"num\": option \"PassiveTimeout\" needs one number of seconds, not a string",
      "device \"quick\": option \"PassiveTimeout\" must be from 0.01 to 86400 seconds",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(reads_num, 0);
}

/* A killed run read a passive device on hci0; this configuration has none (moved to a
 * connected device): the record it left is still worked off at start, and nothing is said
 * about an adapter that no device here uses. */
static void a_record_no_passive_device_uses_now_is_worked_off(void **state) {
  (void)state;
  snprintf(passive_dir, sizeof passive_dir, "/tmp/bm6-plugin-passive-%d", (int)getpid());
  snprintf(passive_record, sizeof passive_record, "%s/passive-hci0.registered", passive_dir);
  assert_int_equal(mkdir(passive_dir, 0700), 0);
  FILE *f = fopen(passive_record, "w");
  assert_non_null(f);
  fputs("50:54:7B:80:2C:3C public\n", f);
  fclose(f);
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("StateDir"), passive_dir));
  add_child(block, device("van", "unix:/nonexistent/van.sock"));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  fake_mgmt_on = 1;
  expect_read("bm6/van", 0);
  assert_int_equal(init_cb(), 0);
  for (int i = 0; i < 200 && mgmt_removed_num == 0; i++) {
    if (__atomic_load_n(&fake_mgmt_kernel, __ATOMIC_ACQUIRE) >= 0) mgmt_answer();
    sleep_ms(10);
  }
  assert_int_equal(mgmt_removed_num, 1);
  assert_string_equal(mgmt_removed[0], "50:54:7B:80:2C:3C");
  sleep_ms(100);
  mgmt_answer(); /* the adapter is up: nothing to say about it */
  sleep_ms(100);
  file_is(passive_record, "");
  assert_int_equal(count_logs(-1, "bm6 plugin: passive:"), 0);
  remove_passive_dir();
}

/* PassiveTemperature: a boolean; in a <Device>, only for a passive device that is not a BM2
 * (at plugin level it is the passive devices' default and a connected device ignores it). */
static void passive_temperature_mistakes_name_device_and_option(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("PassiveTemperature"), 1)); /* 1 */
  oconfig_item_t *wired = device("wired", "AA:BB:CC:DD:EE:11");
  add_child(wired, with_boolean(item("PassiveTemperature"), 1)); /* 2: connected */
  add_child(block, wired);
  oconfig_item_t *bm2 = device("bm2", "AA:BB:CC:DD:EE:12");
  add_child(bm2, with_string(item("Mode"), "passive"));
  add_child(bm2, with_string(item("Model"), "BM2"));
  add_child(bm2, with_boolean(item("PassiveTemperature"), 1)); /* 3: a BM2 */
  add_child(block, bm2);
  oconfig_item_t *word = device("word", "AA:BB:CC:DD:EE:13");
  add_child(word, with_string(item("Mode"), "passive"));
  add_child(word, with_string(item("PassiveTemperature"), "yes")); /* 4 */
  add_child(block, word);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "option \"PassiveTemperature\" needs true or false, not a number",
      ("device \"wired\": option \"PassiveTemperature\": only Mode \"passive\" reads the "
       "advertisement's byte 10"),
      "device \"bm2\": option \"PassiveTemperature\": a BM2's advertisement has no byte",
      "device \"word\": option \"PassiveTemperature\" needs true or false, not a string",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(reads_num, 0);
}

/* A plugin-level Mode is every device's default; a passive device reads like any other,
 * and its scanner's trouble (here: no Bluetooth in this kernel, or no permission) is said
 * once as a warning, not an init failure. */
static void passive_devices_register_reads_and_say_scanner_trouble_once(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("Mode"), "passive"));
  add_child(block, with_number(item("PassiveTimeout"), 1)); /* warned: below 2 s */
  /* Passive devices keep their registration record there: not in the shared /tmp/bm6. */
  snprintf(passive_dir, sizeof passive_dir, "/tmp/bm6-plugin-passive-%d", (int)getpid());
  snprintf(passive_record, sizeof passive_record, "%s/passive-hci0.registered", passive_dir);
  add_child(block, with_string(item("StateDir"), passive_dir));
  add_child(block, device("p1", "AA:BB:CC:DD:EE:04"));
  oconfig_item_t *p2 = device("p2", "AA:BB:CC:DD:EE:05");
  add_child(p2, with_string(item("Adapter"), "hci0"));
  add_child(block, p2);
  oconfig_item_t *c = device("c", "unix:/nonexistent/c.sock");
  add_child(c, with_string(item("Mode"), "connected"));
  add_child(block, c);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  assert_int_equal(count_logs(LOG_WARNING, "option \"PassiveTimeout\" is 1 s, below 2 s"), 1);
  expect_read("bm6/p1", 0);
  expect_read("bm6/p2", 0);
  expect_read("bm6/c", 0);
  assert_int_equal(init_cb(), 0);
  assert_int_equal(reads_num, 3);
  /* Both passive devices are on one adapter: one scanner, one line about it. */
  for (int i = 0; i < 100 && count_logs(LOG_WARNING, "bm6 plugin: passive:") == 0; i++)
    sleep_ms(20);
  sleep_ms(100);
  if (count_logs(LOG_WARNING, "bm6 plugin: passive:") != 1) {
    print_logs();
    fail_msg("expected one line from the one scanner");
  }
  assert_int_equal(count_logs(LOG_ERR, "init failed"), 0);
  /* Never heard (no scanner at all here): each passive device is said silent, once. */
  for (int i = 0;
       i < 150 && count_logs(LOG_WARNING, "is silent: no advertisement heard in 1 s") < 2; i++)
    sleep_ms(20);
  assert_int_equal(count_logs(LOG_WARNING, "device \"p1\" (AA:BB:CC:DD:EE:04) is silent"), 1);
  assert_int_equal(count_logs(LOG_WARNING, "device \"p2\" (AA:BB:CC:DD:EE:05) is silent"), 1);
}

/* The notes' BM6 (50:54:7B:80:2C:3C) and its public advertisement: 13.51 V, 100 %,
 * charging, byte 10 = 2. */
static const uint8_t kNotesBm6Wire[6] = {0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50};
static const uint8_t kNotesAdvertisement[16] = {0x6a, 0x28, 0x1d, 0x95, 0xea, 0x13, 0x2b, 0xed,
                                                0x41, 0xfe, 0xf0, 0xcc, 0xf8, 0x9c, 0xa9, 0x4a};

static int reading_values(void);
static int find_value(const char *type, const char *type_instance, double *value);

/* A passive device "boat" at the notes' BM6, configured with `option` (NULL: none) at
 * plugin level, fed its public advertisement by the fake kernel and read until values come. */

static void read_the_public_advertisement(const char *option) {
  snprintf(passive_dir, sizeof passive_dir, "/tmp/bm6-plugin-passive-%d", (int)getpid());
  snprintf(passive_record, sizeof passive_record, "%s/passive-hci0.registered", passive_dir);
  const char *state_dir = passive_dir;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("StateDir"), state_dir));
  if (option) add_child(block, with_boolean(item(option), 1));
  oconfig_item_t *boat = device("boat", "50:54:7B:80:2C:3C");
  add_child(boat, with_string(item("Mode"), "passive"));
  add_child(boat, with_string(item("Adapter"), "hci0"));
  add_child(block, boat);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  fake_mgmt_on = 1;
  expect_read("bm6/boat", 0);
  assert_int_equal(init_cb(), 0);
  for (int i = 0; i < 200 && __atomic_load_n(&fake_mgmt_kernel, __ATOMIC_ACQUIRE) < 0; i++)
    sleep_ms(10);
  assert_true(fake_mgmt_kernel >= 0);
  int answered = 0;
  for (int i = 0; i < 200 && answered == 0; i++) {
    answered = mgmt_answer();
    if (answered == 0) sleep_ms(10);
  }
  assert_int_equal(answered, 1);
  for (int i = 0; i < 100 && reading_values() == 0; i++) {
    mgmt_answer();
    mgmt_device_found(kNotesBm6Wire, kNotesAdvertisement);
    sleep_ms(20);
    assert_int_equal(reads[0].cb(&reads[0].ud), 0);
  }
  if (reading_values() == 0) print_logs();
  double v;
  assert_true(find_value("voltage", "", &v) >= 0);
  assert_float_equal(v, 13.51, 1e-9);
  assert_true(find_value("percent", "charged", &v) >= 0);
  assert_float_equal(v, 100, 0);
  assert_true(find_value("gauge", "state", &v) >= 0);
  assert_float_equal(v, 2, 0); /* charging */
  assert_true(find_value("signal_power", "", &v) >= 0);
  assert_float_equal(v, -67, 0);
}

/* After the plugin stopped: its StateDir goes. */
static void remove_passive_dir(void) {
  assert_int_equal(shutdown_cb(), 0);
  unlink(passive_record);
  assert_int_equal(rmdir(passive_dir), 0); /* nothing else was left in it */
  passive_dir[0] = '\0';
}

/* Byte 10 of the advertisement is probably not a temperature (public captures only ever
 * show 1-7): by default a passive device dispatches none. */
static void passive_byte_ten_is_no_temperature_by_default(void **state) {
  (void)state;
  read_the_public_advertisement(NULL);
  assert_int_equal(reading_values(), 4); /* voltage, charge, state, signal_power */
  double v;
  assert_true(find_value("temperature", "", &v) < 0);
  remove_passive_dir();
}

static void file_is(const char *path, const char *want) {
  char got[256] = "";
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  const size_t n = fread(got, 1, sizeof got - 1, f);
  got[n] = '\0';
  fclose(f);
  assert_string_equal(got, want);
}

/* What passive mode registers with the kernel is recorded in StateDir while collectd runs,
 * and removed at shutdown; what a killed collectd left recorded is removed at the next
 * start if no longer wanted (here AA:BB:CC:DD:EE:99), and nothing else. */
static void passive_registrations_a_killed_collectd_left_are_removed(void **state) {
  (void)state;
  snprintf(passive_dir, sizeof passive_dir, "/tmp/bm6-plugin-passive-%d", (int)getpid());
  snprintf(passive_record, sizeof passive_record, "%s/passive-hci0.registered", passive_dir);
  mkdir(passive_dir, 0700);
  FILE *f = fopen(passive_record, "w");
  assert_non_null(f);
  fputs("50:54:7B:80:2C:3C public\nAA:BB:CC:DD:EE:99 public\n", f);
  fclose(f);
  read_the_public_advertisement(NULL);
  mgmt_answer();
  assert_int_equal(mgmt_removed_num, 1);
  assert_string_equal(mgmt_removed[0], "AA:BB:CC:DD:EE:99");
  file_is(passive_record, "50:54:7B:80:2C:3C public\n");
  assert_int_equal(shutdown_cb(), 0);
  mgmt_answer();
  assert_int_equal(mgmt_removed_num, 2);
  assert_string_equal(mgmt_removed[1], "50:54:7B:80:2C:3C");
  file_is(passive_record, "");
  remove_passive_dir();
}

/* PassiveTemperature true (here as every device's default) asks for it anyway. */
static void passive_temperature_true_dispatches_byte_ten(void **state) {
  (void)state;
  read_the_public_advertisement("PassiveTemperature");
  assert_int_equal(reading_values(), 5);
  double v;
  assert_true(find_value("temperature", "", &v) >= 0);
  assert_float_equal(v, 2, 0);
  remove_passive_dir();
}

static void registers_one_read_per_device_with_its_interval(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, device("van", "unix:/nonexistent/van.sock"));
  oconfig_item_t *radio = device("radio", "AA:BB:CC:DD:EE:01");
  add_child(radio, with_string(item("Adapter"), "hci1"));
  add_child(radio, with_string(item("AddressType"), "random"));
  add_child(block, radio);
  oconfig_item_t *house = device("house", "unix:/nonexistent/house.sock");
  add_child(house, with_number(item("Interval"), 5));
  add_child(block, house);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);

  expect_read("bm6/van", 0); /* 0: collectd's interval */
  expect_read("bm6/radio", 0);
  expect_read("bm6/house", ((cdtime_t)5) << 30);
  assert_int_equal(init_cb(), 0);
  assert_int_equal(reads_num, 3);
  assert_int_equal(count_logs(LOG_ERR, "configuration"), 0);
}

/* Durations far below what a BM6 can do: absurd ones are errors; short ones work (tests
 * use them) but get one warning each, naming the option; an interval is raised to 1 s. */
static void durations_below_what_a_bm6_does_are_warned_or_refused(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("ReconnectMin"), 0.05)); /* warned once, not per device */
  add_child(block, with_number(item("ReconnectMax"), 0.5));
  oconfig_item_t *fast = device("fast", "unix:/nonexistent/fast.sock");
  add_child(fast, with_number(item("Interval"), 0.2));
  add_child(fast, with_number(item("StreamTimeout"), 1));
  add_child(fast, with_number(item("ResponseTimeout"), 0.5));
  add_child(fast, with_number(item("ConnectTimeout"), 0.2));
  add_child(block, fast);
  add_child(block, device("plain", "unix:/nonexistent/plain.sock"));
  oconfig_item_t *sane = device("sane", "unix:/nonexistent/sane.sock");
  add_child(sane, with_number(item("Interval"), 1));
  add_child(sane, with_number(item("StreamTimeout"), 2));
  add_child(sane, with_number(item("ReconnectMin"), 0.1));
  add_child(sane, with_number(item("ReconnectMax"), 1));
  add_child(block, sane);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);

  const char *want[] = {
      "bm6 plugin: option \"ReconnectMin\" is 0.05 s, below 0.1 s: retrying a device",
      "bm6 plugin: option \"ReconnectMax\" is 0.5 s, below 1 s: a device that stays away",
      ("bm6 plugin: device \"fast\": option \"Interval\" is 0.2 s, below 1 s: a BM6 sends one "
       "reading a second, so more frequent reads find nothing new and only cost CPU; using 1 s"),
      "bm6 plugin: device \"fast\": option \"StreamTimeout\" is 1 s, below 2 s:",
      "bm6 plugin: device \"fast\": option \"ResponseTimeout\" is 0.5 s, below 1 s:",
      "bm6 plugin: device \"fast\": option \"ConnectTimeout\" is 0.2 s, below 1 s:",
  };
  const int n = (int)(sizeof want / sizeof want[0]);
  expect_each_once(LOG_WARNING, want, n);
  assert_int_equal(count_logs(LOG_ERR, "bm6 plugin:"), 0);

  /* The interval is raised to what a BM6 sends; with collectd's interval below it too,
   * the devices that read at collectd's interval are raised, with one more warning. */
  test_interval = ((cdtime_t)1) << 27; /* 0.125 s */
  expect_read("bm6/fast", ((cdtime_t)1) << 30);
  expect_read("bm6/plain", ((cdtime_t)1) << 30);
  expect_read("bm6/sane", ((cdtime_t)1) << 30);
  assert_int_equal(init_cb(), 0);
  assert_int_equal(count_logs(LOG_WARNING, "bm6 plugin: collectd's Interval is 0.125 s, below 1 s"),
                   1);
  assert_int_equal(count_logs(LOG_WARNING, "bm6 plugin:"), n + 1);
}

/* What is too short to work at all is refused, naming the option: ReconnectMin 0.001 on 30
 * dead devices kept a core busy. */
static void absurd_durations_are_errors(void **state) {
  (void)state;
  const char *options[] = {"Interval",     "ConnectTimeout", "ReconnectMin",
                           "ReconnectMax", "StreamTimeout",  "ResponseTimeout"};
  for (int i = 0; i < 6; i++) {
    logged_num = 0;
    oconfig_item_t *block = item("Plugin");
    oconfig_item_t *d = device("tiny", "unix:/nonexistent/tiny.sock");
    add_child(d, with_number(item(options[i]), 0.001));
    add_child(block, d);
    assert_int_not_equal(config_cb(block), 0);
    free_item(block, 1);
    char want[128];
    snprintf(want, sizeof want,
             "bm6 plugin: device \"tiny\": option \"%s\" must be from 0.01 to 86400 seconds",
             options[i]);
    if (count_logs(LOG_ERR, want) != 1) {
      print_logs();
      fail_msg("expected exactly one error containing: %s", want);
    }
    assert_int_not_equal(init_cb(), 0);
    assert_int_equal(shutdown_cb(), 0); /* forget the failed configuration */
  }
}

struct bad_case {
  const char *want; /* the error must contain this */
};

static void every_config_mistake_gets_its_own_error(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("Frobnicate"), 1)); /* 1 */
  add_child(block, device("nameless-address", NULL));   /* 2 */
  add_child(block, device("bad", "12:34"));             /* 3 */
  add_child(block, device("ok", "unix:/tmp/a.sock"));
  add_child(block, device("ok", "unix:/tmp/b.sock"));   /* 4 */
  add_child(block, device("twin", "unix:/tmp/a.sock")); /* 5 */
  oconfig_item_t *neg = device("neg", "unix:/tmp/c.sock");
  add_child(neg, with_number(item("Interval"), -1));          /* 6 */
  add_child(neg, with_string(item("ConnectTimeout"), "ten")); /* 7 */
  add_child(neg, with_number(item("Adress"), 1));             /* 8 */
  add_child(block, neg);
  oconfig_item_t *backoff = device("backoff", "unix:/tmp/d.sock");
  add_child(backoff, with_number(item("ReconnectMin"), 30));
  add_child(backoff, with_number(item("ReconnectMax"), 10)); /* 9 */
  add_child(block, backoff);
  add_child(block, with_number(item("Device"), 3)); /* 10 */
  add_child(block, device("a/b", "unix:/tmp/e.sock"));
  oconfig_item_t *radio = device("radio", "AA:BB:CC:DD:EE:01");
  add_child(radio, with_string(item("Adapter"), "usb0"));
  add_child(radio, with_string(item("AddressType"), "static"));
  add_child(block, radio); /* 11 */

  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);

  const char *want[] = {
      "unknown option \"Frobnicate\" in <Plugin bm6>",
      "device \"nameless-address\": option \"Address\" is missing",
      "device \"bad\": option \"Address\": \"12:34\" is neither a Bluetooth address",
      "device \"ok\" is configured twice",
      "device \"twin\": option \"Address\": address unix:/tmp/a.sock belongs to another device",
      "device \"neg\": option \"Interval\" must be from 0.01 to 86400 seconds",
      "device \"neg\": option \"ConnectTimeout\" needs one number of seconds, not a string",
      "device \"neg\": unknown option \"Adress\"",
      "device \"backoff\": ReconnectMin is greater than ReconnectMax",
      "<Device> needs one quoted name",
      "device \"a/b\": the name must be",
      "device \"radio\": option \"Adapter\": \"usb0\" is not an adapter name like \"hci0\"",
      "device \"radio\": option \"AddressType\": \"static\" is neither \"public\" nor \"random\"",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));

  /* collectd would not run a plugin whose config failed; if it did, init refuses. */
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(reads_num, 0);
}

/* Link, MaxLinks and <Adapter> (issue #13): one error per mistake, and an adapter with more
 * persistent devices than its MaxLinks is named with them. */
static oconfig_item_t *three_radios_on_hci0(int max_links) {
  static const char *radios[] = {"AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "AA:BB:CC:DD:EE:03"};
  oconfig_item_t *block = item("Plugin");
  oconfig_item_t *hci0 = with_string(item("Adapter"), "hci0");
  add_child(hci0, with_number(item("MaxLinks"), max_links));
  add_child(block, hci0);
  for (int i = 0; i < 3; i++) {
    char name[8];
    snprintf(name, sizeof name, "r%d", i);
    oconfig_item_t *radio = device(name, radios[i]);
    add_child(radio, with_string(item("Adapter"), "hci0"));
    if (i == 2) add_child(radio, with_string(item("Link"), "per-read"));
    add_child(block, radio);
  }
  return block;
}

static void link_budget_mistakes_are_errors(void **state) {
  (void)state;
  oconfig_item_t *block = three_radios_on_hci0(2);
  add_child(block, with_number(item("MaxLinks"), 0));             /* 1 */
  add_child(block, with_string(item("Link"), "sometimes"));       /* 2 */
  oconfig_item_t *adapter = with_string(item("Adapter"), "usb0"); /* 3 */
  add_child(adapter, with_number(item("MaxLinks"), 2));
  add_child(block, adapter);
  oconfig_item_t *hci1 = with_string(item("Adapter"), "hci1");
  add_child(hci1, with_number(item("MaxLinks"), 2.5));       /* 4 */
  add_child(hci1, with_number(item("Links"), 2));            /* 5 */
  add_child(hci1, with_string(item("ResetAdapter"), "yes")); /* 6 */
  add_child(hci1, with_number(item("StuckAfter"), 5));       /* 7 */
  add_child(block, hci1);
  oconfig_item_t *unix_adapter = with_string(item("Adapter"), "unix");
  add_child(unix_adapter, with_number(item("StuckAfter"), 60)); /* 8 */
  add_child(block, unix_adapter);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "bm6 plugin: option \"MaxLinks\" needs a whole number from 1 to 64",
      "option \"Link\": \"sometimes\" is neither \"persistent\" nor \"per-read\"",
      "<Adapter \"usb0\">: not an adapter name like \"hci0\"",
      "adapter \"hci1\": option \"MaxLinks\" needs a whole number from 1 to 64",
      "adapter \"hci1\": unknown option \"Links\" (known: MaxLinks, ResetAdapter, StuckAfter)",
      "adapter \"hci1\": option \"ResetAdapter\" needs true or false",
      "adapter \"hci1\": option \"StuckAfter\" needs a number of seconds from 10 to 86400",
      "adapter \"unix\": option \"StuckAfter\": simulated devices have no controller",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
}

static oconfig_item_t *with_boolean(oconfig_item_t *ci, int b) {
  ci->values = realloc(ci->values, sizeof(oconfig_value_t) * (ci->values_num + 1));
  ci->values[ci->values_num].type = OCONFIG_TYPE_BOOLEAN;
  ci->values[ci->values_num].value.boolean = b;
  ci->values_num++;
  return ci;
}

static void backfill_mistakes_name_the_device_and_option(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("StateDir"), "var/bm6")); /* 1 */
  oconfig_item_t *a = device("a", "unix:/tmp/bf-a.sock");
  add_child(a, with_string(item("Backfill"), "yes"));   /* 2 */
  add_child(a, with_number(item("BackfillMax"), 0));    /* 3 */
  add_child(a, with_number(item("RecordPeriod"), 1.5)); /* 4 */
  add_child(block, a);
  oconfig_item_t *b = device("b", "unix:/tmp/bf-b.sock");
  add_child(b, with_boolean(item("Backfill"), 1));
  add_child(b, with_string(item("Model"), "BM2")); /* 5 */
  add_child(block, b);
  oconfig_item_t *c = device("c", "AA:BB:CC:DD:EE:09");
  add_child(c, with_string(item("Mode"), "passive"));
  add_child(c, with_boolean(item("Backfill"), 1)); /* 6 */
  add_child(block, c);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "option \"StateDir\": \"var/bm6\" is not an absolute path",
      "device \"a\": option \"Backfill\" needs true or false, not a string",
      "device \"a\": option \"BackfillMax\" must be a whole number of seconds from 1 to",
      "device \"a\": option \"RecordPeriod\" must be a whole number of seconds from 1 to 86400",
      "device \"b\": option \"Backfill\": a BM2's stored history is not supported",
      "device \"c\": option \"Backfill\": the stored history is downloaded over a link",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
}

static void more_persistent_devices_than_max_links_names_the_adapter(void **state) {
  (void)state;
  oconfig_item_t *block = three_radios_on_hci0(1); /* r0, r1 persistent; r2 per-read */
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  if (count_logs(LOG_ERR,
                 "adapter \"hci0\" has 2 persistent devices (\"r0\", \"r1\") but "
                 "MaxLinks 1") != 1) {
    print_logs();
    fail_msg("no error naming the adapter and its persistent devices");
  }
  assert_int_equal(count_logs(LOG_ERR, "bm6 plugin:"), 1);
}

static void max_links_three_fits_two_persistent_and_a_per_read_device(void **state) {
  (void)state;
  oconfig_item_t *block = three_radios_on_hci0(3);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  assert_int_equal(count_logs(LOG_ERR, "bm6 plugin:"), 0);
}

/* Issue #22: the options of one block are read from one table, as a hostile user would try
 * them. Given twice: an error naming the device (or adapter) and option, never "the last one
 * wins"; "hci00" is hci0, so its second <Adapter> block is one too. */
static void an_option_or_adapter_block_given_twice_is_an_error(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_string(item("Mode"), "connected"));
  add_child(block, with_string(item("mode"), "passive")); /* 1 */
  oconfig_item_t *hci0 = with_string(item("Adapter"), "hci0");
  add_child(hci0, with_number(item("MaxLinks"), 2));
  add_child(hci0, with_number(item("MaxLinks"), 3)); /* 2 */
  add_child(block, hci0);
  oconfig_item_t *hci00 = with_string(item("Adapter"), "hci00"); /* 3 */
  add_child(hci00, with_number(item("MaxLinks"), 4));
  add_child(block, hci00);
  oconfig_item_t *d = device("d", "unix:/tmp/twice-d.sock");
  add_child(d, with_number(item("Interval"), 10));
  add_child(d, with_number(item("Interval"), 20)); /* 4 */
  add_child(block, d);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "bm6 plugin: option \"mode\" is given twice",
      "adapter \"hci0\": option \"MaxLinks\" is given twice",
      "<Adapter \"hci00\"> is given twice: adapter hci0 has a block already",
      "device \"d\": option \"Interval\" is given twice",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
}

/* <Adapter> inside <Device> looks like Adapter "hci0" to oconfig (a key and a value); it is
 * refused, not read as the device's adapter. An option in a block it does not belong in
 * says where it does. */
static void adapter_block_inside_device_and_misplaced_options_are_refused(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  oconfig_item_t *d = device("d", "AA:BB:CC:DD:EE:01");
  oconfig_item_t *inner = with_string(item("Adapter"), "hci0"); /* 1 */
  add_child(inner, with_number(item("MaxLinks"), 2));
  add_child(d, inner);
  add_child(d, with_number(item("MaxLinks"), 2)); /* 2 */
  add_child(block, d);
  add_child(block, with_string(item("Adapter"), "hci1")); /* 3 */
  add_child(block, with_number(item("Interval"), 10));    /* 4 */
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      ("device \"d\": <Adapter> is a block, and <Device> takes none here: an <Adapter> block "
       "goes in <Plugin bm6>; in <Device> write Adapter \"hci0\""),
      "device \"d\": option \"MaxLinks\" belongs in <Plugin bm6> or <Adapter>, not in <Device>",
      "bm6 plugin: option \"Adapter\" belongs in <Device>, not in <Plugin bm6>",
      "bm6 plugin: option \"Interval\" belongs in <Device>, not in <Plugin bm6>",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
}

/* "hci00" and "hci0" are one adapter: its MaxLinks counts the devices of both spellings. */
static void hci00_and_hci0_are_one_adapter(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  oconfig_item_t *hci00 = with_string(item("Adapter"), "hci00");
  add_child(hci00, with_number(item("MaxLinks"), 1));
  add_child(block, hci00);
  oconfig_item_t *a = device("a", "AA:BB:CC:DD:EE:01");
  add_child(a, with_string(item("Adapter"), "hci0"));
  add_child(block, a);
  oconfig_item_t *b = device("b", "AA:BB:CC:DD:EE:02");
  add_child(b, with_string(item("Adapter"), "hci000"));
  add_child(block, b);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "adapter \"hci0\" has 2 persistent devices (\"a\", \"b\") but MaxLinks 1",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
}

/* A plugin-level default applies where it can: Backfill true at plugin level is the
 * connected BM6's, and off for the passive device and the BM2 instead of failing them.
 * Written in the <Device> itself it is the user's word, and the contradiction an error
 * (backfill_mistakes_name_the_device_and_option). */
static void a_plugin_level_default_applies_where_it_can(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_boolean(item("Backfill"), 1));
  add_child(block, with_boolean(item("PassiveTemperature"), 1));
  add_child(block, device("connected", "unix:/tmp/default-c.sock"));
  oconfig_item_t *p = device("passive", "AA:BB:CC:DD:EE:07");
  add_child(p, with_string(item("Mode"), "passive"));
  add_child(block, p);
  oconfig_item_t *bm2 = device("bm2", "unix:/tmp/default-b.sock");
  add_child(bm2, with_string(item("Model"), "BM2"));
  add_child(block, bm2);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  if (count_logs(LOG_ERR, "bm6 plugin:") != 0) print_logs();
  assert_int_equal(count_logs(LOG_ERR, "bm6 plugin:"), 0);
}

/* Limits print as written (2592000, not 2.592e+06); a name's limit is in bytes, and the
 * message says bytes: 64 "é" are 64 characters but 128 bytes, one too many. */
static void limits_print_as_written_and_names_count_bytes(void **state) {
  (void)state;
  char long_name[2 * 64 + 1] = "", fits[2 * 63 + 1] = "";
  for (int i = 0; i < 64; i++) strcat(long_name, "\xc3\xa9");
  for (int i = 0; i < 63; i++) strcat(fits, "\xc3\xa9");
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("BackfillMax"), 0));         /* 1 */
  add_child(block, with_string(item("RecordPeriod"), "2m"));     /* 2 */
  add_child(block, device(long_name, "unix:/tmp/names-a.sock")); /* 3 */
  add_child(block, device(fits, "unix:/tmp/names-b.sock"));
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "bm6 plugin: option \"BackfillMax\" must be a whole number of seconds from 1 to 2592000",
      "bm6 plugin: option \"RecordPeriod\" needs one whole number of seconds, from 1 to 86400, "
      "not a string",
      "\": the name must be 1 to 127 bytes (a character outside ASCII takes 2 to 4), with no "
      "\"/\"; it is 128",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
  assert_int_equal(count_logs(LOG_ERR, "e+0"), 0);
}

/* StateDir by default: "bm6" under BaseDir, created at init. A corrupt state file there is
 * said once and ignored (no gap known); the plugin starts and reads as usual. */
static void corrupt_state_file_is_said_once_and_ignored(void **state) {
  (void)state;
  char dir[160], file[192];
  snprintf(base_dir, sizeof base_dir, "/tmp/bm6-plugin-base-%d", (int)getpid());
  snprintf(dir, sizeof dir, "%s/bm6", base_dir);
  snprintf(file, sizeof file, "%s/van.state", dir);
  assert_int_equal(mkdir(base_dir, 0700), 0);
  oconfig_item_t *block = item("Plugin");
  oconfig_item_t *van = device("van", "unix:/tmp/bm6-plugin-no-such.sock");
  add_child(van, with_boolean(item("Backfill"), 1));
  add_child(block, van);
  oconfig_item_t *bus = device("bus", "unix:/tmp/bm6-plugin-no-such-2.sock");
  add_child(bus, with_boolean(item("Backfill"), 1));
  add_child(block, bus);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  /* Where the default StateDir is, a file no save_state() wrote (a torn write, an editor). */
  assert_int_equal(mkdir(dir, 0700), 0);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("bm6-collectd state 1\nlast_dispatched 17956\x01\n", f);
  fclose(f);
  expect_read("bm6/van", 0);
  expect_read("bm6/bus", 0);
  assert_int_equal(init_cb(), 0);
  if (count_logs(LOG_WARNING, "device \"van\": state file") != 1) print_logs();
  assert_int_equal(count_logs(LOG_WARNING, "device \"van\": state file"), 1);
  assert_int_equal(count_logs(LOG_WARNING, "is ignored (last_dispatched is not SECONDS"), 1);
  /* The other device has no file yet: said at info level, no warning. */
  assert_int_equal(count_logs(LOG_INFO, "device \"bus\": no state file"), 1);
  assert_int_equal(count_logs(LOG_WARNING, "device \"bus\""), 0);
  for (int i = 0; i < reads_num; i++) assert_int_equal(reads[i].cb(&reads[i].ud), 0);
  assert_int_equal(shutdown_cb(), 0);
  unlink(file);
  rmdir(dir);
  rmdir(base_dir);
  snprintf(base_dir, sizeof base_dir, "/tmp");
}

/* One device however its address is spelled: a second device with it would be refused by
 * the monitor for as long as the first holds the connection. */
static void same_address_spelled_differently_is_refused(void **state) {
  (void)state;
  char dir[64], link[64], real_sock[96], linked_sock[96];
  snprintf(dir, sizeof dir, "/tmp/bm6-plugin-dir-%d", (int)getpid());
  snprintf(link, sizeof link, "/tmp/bm6-plugin-link-%d", (int)getpid());
  assert_int_equal(mkdir(dir, 0700), 0);
  assert_int_equal(symlink(dir, link), 0);
  snprintf(real_sock, sizeof real_sock, "unix:%s/s.sock", dir);
  snprintf(linked_sock, sizeof linked_sock, "unix:%s/s.sock", link);

  oconfig_item_t *block = item("Plugin");
  add_child(block, device("upper", "AA:BB:CC:DD:EE:02"));
  add_child(block, device("lower", "aa:bb:cc:dd:ee:02"));
  add_child(block, device("plain", "unix:/tmp/a.sock"));
  add_child(block, device("dotted", "unix:/tmp/./a.sock"));
  add_child(block, device("slashes", "unix://tmp//a.sock"));
  add_child(block, device("dotdot", "unix:/tmp/nonexistent/../a.sock"));
  add_child(block, device("missing-dir", "unix:/nonexistent/x/../b.sock"));
  add_child(block, device("missing-dir2", "unix:/nonexistent/./b.sock"));
  add_child(block, device("real", real_sock));
  add_child(block, device("linked", linked_sock));
  oconfig_item_t *twice = device("twice", "unix:/tmp/c.sock");
  add_child(twice, with_string(item("Address"), "unix:/tmp/d.sock"));
  add_child(block, twice);
  add_child(block, device("after-twice", "unix:/tmp/d.sock")); /* d is not reserved */
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  unlink(link);
  rmdir(dir);

  const char *want[] = {
      "device \"lower\": option \"Address\": address aa:bb:cc:dd:ee:02 belongs to another "
      "device already: \"upper\" has AA:BB:CC:DD:EE:02",
      "device \"dotted\": option \"Address\": address unix:/tmp/./a.sock belongs to another "
      "device already: \"plain\" has unix:/tmp/a.sock",
      "device \"slashes\": option \"Address\": address unix://tmp//a.sock belongs to another "
      "device already: \"plain\"",
      "device \"dotdot\": option \"Address\": address unix:/tmp/nonexistent/../a.sock belongs "
      "to another device already: \"plain\"",
      "device \"missing-dir2\": option \"Address\": address unix:/nonexistent/./b.sock belongs "
      "to another device already: \"missing-dir\"",
      "device \"linked\": option \"Address\": address unix:/tmp/bm6-plugin-link-",
      "device \"twice\": option \"Address\" is given twice",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
  assert_int_not_equal(init_cb(), 0);
}

/* Values of readings, not the health counters every read dispatches. */
static int reading_values(void) {
  int n = 0;
  for (int i = 0; i < dispatched_num; i++) n += strcmp(dispatched[i].type, "derive") != 0;
  return n;
}

/* The latest dispatch of that type and type instance. */
static int find_value(const char *type, const char *type_instance, double *value) {
  for (int i = dispatched_num - 1; i >= 0; i--)
    if (!strcmp(dispatched[i].type, type) && !strcmp(dispatched[i].type_instance, type_instance)) {
      *value = dispatched[i].value;
      return i;
    }
  return -1;
}

static void dispatches_readings_once_and_nothing_stale(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/bm6-plugin-test-%d.sock", (int)getpid());
  char *extra[] = {"--voltage", "12.34",    "--temperature", "-7",  "--soc", "55",
                   "--state",   "charging", "--period",      "0.1", NULL};
  pid_t sim = start_sim(path, extra);

  char address[80];
  snprintf(address, sizeof address, "unix:%s", path);
  oconfig_item_t *block = item("Plugin");
  add_child(block, device("van", address));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/van", 0);
  assert_int_equal(init_cb(), 0);
  assert_int_equal(reads_num, 1);

  /* The read never waits: poll it as collectd would, faster. */
  for (int i = 0; i < 100 && reading_values() == 0; i++) {
    assert_int_equal(reads[0].cb(&reads[0].ud), 0);
    if (reading_values() == 0) sleep_ms(50);
  }
  if (reading_values() != 4) print_logs();
  assert_int_equal(reading_values(), 4);
  double v;
  int i = find_value("voltage", "", &v);
  assert_true(i >= 0);
  assert_float_equal(v, 12.34, 1e-9);
  assert_string_equal(dispatched[i].plugin, "bm6");
  assert_string_equal(dispatched[i].instance, "van");
  const double t = (double)dispatched[i].time / 1073741824.0;
  assert_true(t > now_s() - 2 && t <= now_s() + 0.01);
  assert_true(find_value("temperature", "", &v) >= 0);
  assert_float_equal(v, -7, 0);
  assert_true(find_value("percent", "charged", &v) >= 0);
  assert_float_equal(v, 55, 0);
  assert_true(find_value("gauge", "state", &v) >= 0);
  assert_float_equal(v, 2, 0);
  assert_int_equal(count_logs(LOG_INFO, "device \"van\" (unix:"), 1);

  /* Every read also dispatches the health counters: the acknowledgement that preceded
   * the stream is expected, not a dropped frame; nothing was reconnected. Type derive, not
   * counter: they restart at 0 with collectd, which a counter would store as a wrap. */
  for (int k = 0; k < dispatched_num; k++) assert_string_not_equal(dispatched[k].type, "counter");
  assert_true(find_value("derive", "frames_dropped", &v) >= 0);
  assert_float_equal(v, 0, 0);
  assert_true(find_value("derive", "reconnects", &v) >= 0);
  assert_float_equal(v, 0, 0);

  /* Straight away again: nothing new arrived, nothing is repeated. */
  assert_int_equal(reads[0].cb(&reads[0].ud), 0);
  assert_int_equal(reading_values(), 4);

  /* The device goes quiet; a reading older than the interval is not dispatched. */
  test_interval = ((cdtime_t)1) << 28; /* 0.25 s */
  kill(sim, SIGSTOP);
  sleep_ms(150); /* let frames already in flight land */
  assert_int_equal(reads[0].cb(&reads[0].ud), 0);
  const int before = reading_values();
  sleep_ms(400);
  assert_int_equal(reads[0].cb(&reads[0].ud), 0);
  assert_int_equal(reading_values(), before);
  stop_sim(sim);
}

static void dead_device_logs_once_and_reads_succeed_empty(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("ReconnectMin"), 0.01));
  add_child(block, with_number(item("ReconnectMax"), 0.02));
  add_child(block, device("ghost", "unix:/nonexistent/ghost.sock"));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/ghost", 0);
  assert_int_equal(init_cb(), 0);
  for (int i = 0; i < 20; i++) {
    /* 0, not an error: collectd would otherwise stretch this read's interval. */
    assert_int_equal(reads[0].cb(&reads[0].ud), 0);
    sleep_ms(25);
  }
  assert_int_equal(reading_values(), 0);
  /* Dozens of attempts in half a second, one message. */
  if (count_logs(LOG_ERR, "device \"ghost\"") != 1) print_logs();
  assert_int_equal(
      count_logs(
          LOG_ERR,
          "device \"ghost\" (unix:/nonexistent/ghost.sock) is unreachable: no simulator socket"),
      1);
  assert_int_equal(count_logs(-1, "device \"ghost\""), 1);
  pthread_mutex_lock(&log_lock);
  const int notifications = notified_num;
  pthread_mutex_unlock(&log_lock);
  assert_int_equal(notifications, 1);
  assert_int_equal(notified[0].severity, NOTIF_FAILURE);
  assert_string_equal(notified[0].instance, "ghost");
  assert_non_null(strstr(notified[0].message, "unreachable"));
}

/* VoltageOffset, TemperatureOffset and Chemistry: hostile values (NaN, infinities, out of
 * range, the wrong type, given twice, an unknown chemistry) are errors naming the device and
 * the option, at plugin level too; the bounds themselves are accepted. */
static void correction_mistakes_name_device_and_option(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("TemperatureOffset"), 31)); /* 1 */
  add_child(block, with_string(item("Chemistry"), "lithium"));  /* 2 */
  oconfig_item_t *nan_v = device("nan", "unix:/tmp/corr-nan.sock");
  add_child(nan_v, with_number(item("VoltageOffset"), NAN));           /* 3 */
  add_child(nan_v, with_number(item("TemperatureOffset"), -INFINITY)); /* 4 */
  add_child(block, nan_v);
  oconfig_item_t *big = device("big", "unix:/tmp/corr-big.sock");
  add_child(big, with_number(item("VoltageOffset"), 12.8));         /* 5 */
  add_child(big, with_number(item("TemperatureOffset"), INFINITY)); /* 6 */
  add_child(block, big);
  oconfig_item_t *word = device("word", "unix:/tmp/corr-word.sock");
  add_child(word, with_string(item("VoltageOffset"), "0.1")); /* 7 */
  add_child(word, with_number(item("Chemistry"), 4));         /* 8 */
  add_child(block, word);
  oconfig_item_t *twice = device("twice", "unix:/tmp/corr-twice.sock");
  add_child(twice, with_number(item("VoltageOffset"), 0.1));
  add_child(twice, with_number(item("voltageoffset"), 0.2)); /* 9 */
  add_child(twice, with_string(item("Chemistry"), "agm"));
  add_child(twice, with_string(item("Chemistry"), "agm")); /* 10 */
  add_child(block, twice);
  oconfig_item_t *edge = device("edge", "unix:/tmp/corr-edge.sock"); /* the bounds: fine */
  add_child(edge, with_number(item("VoltageOffset"), -2));
  add_child(edge, with_number(item("TemperatureOffset"), 30));
  add_child(edge, with_string(item("Chemistry"), "LiFePO4"));
  add_child(block, edge);
  assert_int_not_equal(config_cb(block), 0);
  free_item(block, 1);
  const char *want[] = {
      "bm6 plugin: option \"TemperatureOffset\" must be from -30 to 30 degrees C",
      ("bm6 plugin: option \"Chemistry\": \"lithium\" is not a battery chemistry (known: "
       "\"lead-acid\", \"agm\", \"lifepo4\")"),
      "device \"nan\": option \"VoltageOffset\" must be from -2 to 2 V",
      "device \"nan\": option \"TemperatureOffset\" must be from -30 to 30 degrees C",
      "device \"big\": option \"VoltageOffset\" must be from -2 to 2 V",
      "device \"big\": option \"TemperatureOffset\" must be from -30 to 30 degrees C",
      "device \"word\": option \"VoltageOffset\" needs one number of volts, not a string",
      "device \"word\": option \"Chemistry\" needs exactly one quoted string, not a number",
      "device \"twice\": option \"voltageoffset\" is given twice",
      "device \"twice\": option \"Chemistry\" is given twice",
  };
  expect_each_once(LOG_ERR, want, (int)(sizeof want / sizeof want[0]));
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(reads_num, 0);
}

/* A plugin-level TemperatureOffset and Chemistry are every device's defaults; a device's
 * own VoltageOffset adds to its voltage; the monitor's charge stays as it is and the
 * estimate goes beside it, from the corrected voltage. */
static void corrections_apply_to_dispatched_values(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/bm6-plugin-corr-%d.sock", (int)getpid());
  char *extra[] = {"--voltage", "12.34",    "--temperature", "25", "--soc",
                   "55",        "--period", "0.1",           NULL};
  pid_t sim = start_sim(path, extra);
  char address[80];
  snprintf(address, sizeof address, "unix:%s", path);
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("TemperatureOffset"), -18.5));
  add_child(block, with_string(item("Chemistry"), "lead-acid"));
  oconfig_item_t *van = device("van", address);
  add_child(van, with_number(item("VoltageOffset"), 0.11));
  add_child(block, van);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/van", 0);
  assert_int_equal(init_cb(), 0);
  for (int i = 0; i < 100 && reading_values() == 0; i++) {
    assert_int_equal(reads[0].cb(&reads[0].ud), 0);
    if (reading_values() == 0) sleep_ms(50);
  }
  if (reading_values() != 5) print_logs();
  assert_int_equal(reading_values(), 5);
  double v;
  assert_true(find_value("voltage", "", &v) >= 0);
  assert_float_equal(v, 12.45, 1e-9);
  assert_true(find_value("temperature", "", &v) >= 0);
  assert_float_equal(v, 6.5, 1e-9);
  assert_true(find_value("percent", "charged", &v) >= 0);
  assert_float_equal(v, 55, 0);
  assert_true(find_value("percent", "charged_estimated", &v) >= 0);
  assert_float_equal(v, 75, 1e-9); /* BCI: 12.45 V at rest is 75 % */
  stop_sim(sim);
}

/* Configures one device "name" at unix:path with the given reconnect backoff, and starts
 * the plugin: its read must be registered. */
static void start_one_device(const char *name, const char *path, double reconnect_min,
                             double reconnect_max) {
  char address[80], read_name[64];
  snprintf(address, sizeof address, "unix:%s", path);
  snprintf(read_name, sizeof read_name, "bm6/%s", name);
  oconfig_item_t *block = item("Plugin");
  add_child(block, with_number(item("ReconnectMin"), reconnect_min));
  add_child(block, with_number(item("ReconnectMax"), reconnect_max));
  add_child(block, device(name, address));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read(read_name, 0);
  assert_int_equal(init_cb(), 0);
}

static void device_that_comes_back_is_logged_once_each_way(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/bm6-plugin-back-%d.sock", (int)getpid());
  start_one_device("late", path, 0.02, 0.05);
  sleep_ms(300);
  char *extra[] = {"--period", "0.05", NULL};
  pid_t sim = start_sim(path, extra);
  for (int i = 0; i < 100 && count_logs(LOG_INFO, "is back") == 0; i++) sleep_ms(20);
  sleep_ms(200); /* more readings, more reads: still no more messages */
  if (count_logs(-1, "\"late\"") != 2) print_logs();
  assert_int_equal(count_logs(LOG_ERR, "device \"late\""), 1);
  assert_int_equal(count_logs(LOG_INFO, "device \"late\" ("), 1);
  assert_int_equal(count_logs(LOG_INFO, "is back: readings flow again"), 1);
  pthread_mutex_lock(&log_lock);
  const int notifications = notified_num;
  pthread_mutex_unlock(&log_lock);
  /* One FAILURE when it could not be reached, one OKAY when it was back. */
  assert_int_equal(notifications, 2);
  assert_int_equal(notified[0].severity, NOTIF_FAILURE);
  assert_int_equal(notified[1].severity, NOTIF_OKAY);
  for (int i = 0; i < 2; i++) {
    assert_string_equal(notified[i].host, "testhost");
    assert_string_equal(notified[i].plugin, "bm6");
    assert_string_equal(notified[i].instance, "late");
  }
  assert_non_null(strstr(notified[1].message, "is back"));
  stop_sim(sim);
}

/* Unreachable, then busy (the phone app took the monitor), then back: the change of reason
 * is said once, with no notification of its own. */
static void a_changed_reason_is_said_once_more(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/bm6-plugin-cause-%d.sock", (int)getpid());
  start_one_device("taken", path, 0.02, 0.05);
  for (int i = 0; i < 100 && count_logs(LOG_ERR, "is unreachable") == 0; i++) sleep_ms(20);
  /* The owner's phone holds the monitor for its first 3 s (--busy: no race between the
   * phone's connect and the plugin's next attempt), then lets it go. */
  char *extra[] = {"--period", "0.05", "--busy", "1000:3", NULL};
  pid_t sim = start_sim(path, extra);
  for (int i = 0; i < 100 && count_logs(LOG_ERR, "now for another reason") == 0; i++) sleep_ms(20);
  sleep_ms(300); /* many more busy attempts: nothing more said */
  assert_int_equal(count_logs(-1, "device \"taken\""), 2);
  for (int i = 0; i < 300 && count_logs(LOG_INFO, "is back") == 0; i++) sleep_ms(20);
  stop_sim(sim);
  if (count_logs(-1, "device \"taken\" (") != 3) print_logs();
  assert_int_equal(count_logs(LOG_ERR, "device \"taken\" (unix:/tmp/bm6-plugin-cause-"), 2);
  assert_int_equal(count_logs(LOG_ERR, "is unreachable: no simulator socket"), 1);
  assert_int_equal(count_logs(LOG_ERR,
                              "is still down, now for another reason: the monitor "
                              "closed the link at once: it is busy"),
                   1);
  assert_int_equal(count_logs(LOG_INFO, "device \"taken\" (unix:"), 1); /* back */
  assert_int_equal(count_logs(-1, "device \"taken\" ("), 3);            /* link lines */
  assert_int_equal(count_logs(LOG_INFO, "device \"taken\" is a BM6"), 1);
  pthread_mutex_lock(&log_lock);
  const int notifications = notified_num;
  pthread_mutex_unlock(&log_lock);
  assert_int_equal(notifications, 2);
  assert_int_equal(notified[0].severity, NOTIF_FAILURE);
  assert_int_equal(notified[1].severity, NOTIF_OKAY);
}

static void failed_thread_start_leaves_no_read_registered(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, device("van", "unix:/nonexistent/van.sock"));
  add_child(block, device("boat", "unix:/nonexistent/boat.sock"));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/van", 0);
  expect_read("bm6/boat", 0);
  thread_create_fails = EAGAIN;
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(count_logs(LOG_ERR, "bm6 plugin: starting the I/O thread failed"), 1);
  /* Unregistered (the mock frees their user data): collectd would otherwise go on calling
   * reads of an engine that was never started. */
  assert_int_equal(reads_num, 0);
}

static void read_registration_failure_unregisters_the_others(void **state) {
  (void)state;
  oconfig_item_t *block = item("Plugin");
  add_child(block, device("van", "unix:/nonexistent/van.sock"));
  add_child(block, device("boat", "unix:/nonexistent/boat.sock"));
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/van", 0);
  expect_string(plugin_register_complex_read, group, "bm6");
  expect_string(plugin_register_complex_read, name, "bm6/boat");
  expect_value(plugin_register_complex_read, interval, 0);
  will_return(plugin_register_complex_read, -1);
  assert_int_not_equal(init_cb(), 0);
  assert_int_equal(count_logs(LOG_ERR, "registering the read callback bm6/boat failed"), 1);
  assert_int_equal(reads_num, 0);
}

/* A link lost every ~0.3 s: the first loss and the return are said and notified, then
 * nothing per loss (the summary comes after minutes, beyond this test). */
static void flapping_device_is_said_once_each_way(void **state) {
  (void)state;
  char path[64];
  snprintf(path, sizeof path, "/tmp/bm6-plugin-flap-%d.sock", (int)getpid());
  char *extra[] = {"--period", "0.05", "--fault", "drop-mid-stream", NULL};
  pid_t sim = start_sim(path, extra);
  start_one_device("flappy", path, 0.05, 0.1);
  double reconnects = 0;
  for (int i = 0; i < 500 && reconnects < 8; i++) { /* ends at 8: about 3 s idle, longer loaded */
    assert_int_equal(reads[0].cb(&reads[0].ud), 0); /* reads tick the log too */
    find_value("derive", "reconnects", &reconnects);
    sleep_ms(20);
  }
  stop_sim(sim);
  assert_true(reconnects >= 8);
  if (count_logs(-1, "device \"flappy\"") != 4) print_logs();
  assert_int_equal(count_logs(LOG_INFO, "device \"flappy\" (unix:"), 2);    /* connected, back */
  assert_int_equal(count_logs(LOG_WARNING, "device \"flappy\" (unix:"), 1); /* lost */
  /* The model, detected on the first link, is said once, not per link. */
  assert_int_equal(count_logs(LOG_INFO, "device \"flappy\" is a BM6"), 1);
  assert_int_equal(count_logs(-1, "device \"flappy\""), 4);
  pthread_mutex_lock(&log_lock);
  const int notifications = notified_num;
  pthread_mutex_unlock(&log_lock);
  assert_int_equal(notifications, 2);
  assert_int_equal(notified[0].severity, NOTIF_FAILURE);
  assert_non_null(strstr(notified[0].message, "link lost"));
  assert_int_equal(notified[1].severity, NOTIF_OKAY);
}

/* ---- StateDir: files planted by another user ---- */

#define VICTIM_TEXT "precious: not the plugin's\n"

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void assert_file_text(const char *path, const char *text) {
  char buf[256] = {0};
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_string_equal(buf, text);
}

static int is_symlink(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Entries in `dir` besides . and .. */
static int entries(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  assert_int_equal(fscanf(p, "%d", &n), 1);
  pclose(p);
  return n;
}

static int voltages_of(const char *device) {
  int n = 0;
  for (int i = 0; i < dispatched_num; i++)
    n += !strcmp(dispatched[i].instance, device) && !strcmp(dispatched[i].type, "voltage");
  return n;
}

static oconfig_item_t *backfill_block(const char *state_dir, const char *const *names,
                                      const char *const *addresses, int n) {
  oconfig_item_t *block = item("Plugin");
  if (state_dir) add_child(block, with_string(item("StateDir"), state_dir));
  for (int i = 0; i < n; i++) {
    oconfig_item_t *d = device(names[i], addresses[i]);
    add_child(d, with_boolean(item("Backfill"), 1));
    add_child(block, d);
  }
  return block;
}

/* In a StateDir of collectd's own: a FIFO at one device's state file (open() would wait
 * for a writer for ever: init would never return), a symbolic link to a victim file at
 * another's, links at the temporary names of earlier versions, and a temporary file a
 * killed collectd left. Each state file is refused with one line, init returns, readings
 * flow, and at shutdown the state files are replaced by regular files: the victim is
 * untouched, the leftover gone. */
static void planted_fifo_and_symlinks_are_refused(void **state) {
  (void)state;
  alarm(30); /* a blocked init fails the test instead of hanging it */
  char dir[96], victim[96], file[160], address[2][104];
  snprintf(dir, sizeof dir, "/tmp/bm6-plugin-planted-%d", (int)getpid());
  snprintf(victim, sizeof victim, "/tmp/bm6-plugin-victim-%d", (int)getpid());
  assert_int_equal(mkdir(dir, 0755), 0);
  write_text(victim, VICTIM_TEXT);
  snprintf(file, sizeof file, "%s/van.state", dir);
  assert_int_equal(mkfifo(file, 0600), 0);
  snprintf(file, sizeof file, "%s/bus.state", dir);
  assert_int_equal(symlink(victim, file), 0);
  const char *const names[] = {"van", "bus"};
  for (int i = 0; i < 2; i++) {
    snprintf(file, sizeof file, "%s/%s.state.tmp", dir, names[i]);
    assert_int_equal(symlink(victim, file), 0);
  }
  snprintf(file, sizeof file, "%s/.van.state.tmp-0123456789ab", dir);
  write_text(file, "left by a collectd killed while it saved\n");
  pid_t sims[2];
  for (int i = 0; i < 2; i++) {
    /* The socket's path is the address after "unix:" (one buffer: no truncation to
     * reason about, which gcc -O2 on arm64 cannot see through two). */
    snprintf(address[i], sizeof address[i], "unix:/tmp/bm6-plugin-planted-%d-%s.sock",
             (int)getpid(), names[i]);
    char *extra[] = {"--period", "0.1", NULL};
    sims[i] = start_sim(address[i] + 5, extra);
  }
  const char *const addresses[] = {address[0], address[1]};
  oconfig_item_t *block = backfill_block(dir, names, addresses, 2);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/van", 0);
  expect_read("bm6/bus", 0);
  assert_int_equal(init_cb(), 0);
  const char *want[] = {"device \"van\": state file /tmp/bm6-plugin-planted-",
                        "device \"bus\": state file /tmp/bm6-plugin-planted-"};
  expect_each_once(LOG_WARNING, want, 2);
  assert_int_equal(count_logs(LOG_WARNING, "van.state is ignored (is a FIFO)"), 1);
  assert_int_equal(count_logs(LOG_WARNING, "bus.state is ignored (is a symbolic link)"), 1);
  for (int i = 0; i < 200 && !(voltages_of("van") && voltages_of("bus")); i++) {
    for (int r = 0; r < reads_num; r++) assert_int_equal(reads[r].cb(&reads[r].ud), 0);
    sleep_ms(50);
  }
  if (!voltages_of("van") || !voltages_of("bus")) print_logs();
  assert_true(voltages_of("van") > 0 && voltages_of("bus") > 0); /* both read */
  assert_int_equal(shutdown_cb(), 0);
  for (int i = 0; i < 2; i++) {
    stop_sim(sims[i]);
    unlink(address[i] + 5);
  }
  assert_file_text(victim, VICTIM_TEXT);
  assert_int_equal(count_logs(LOG_WARNING, "not saved"), 0);
  for (int i = 0; i < 2; i++) {
    struct stat st;
    snprintf(file, sizeof file, "%s/%s.state", dir, names[i]);
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    snprintf(file, sizeof file, "%s/%s.state.tmp", dir, names[i]);
    assert_true(is_symlink(file));
    unlink(file);
    snprintf(file, sizeof file, "%s/%s.state", dir, names[i]);
    unlink(file);
  }
  assert_int_equal(entries(dir), 0); /* the leftover temporary file is gone */
  assert_int_equal(rmdir(dir), 0);
  unlink(victim);
  alarm(0);
}

/* A StateDir another user could plant files in (or a link that another user could have
 * planted in its parent) is not used at all: one error naming it and why, nothing read or
 * written in it, and the plugin reads as usual. */
static void unsafe_state_dirs_are_refused_once(void **state) {
  (void)state;
  char dir[96], real[96], victim[96], file[160], want[256];
  snprintf(dir, sizeof dir, "/tmp/bm6-plugin-unsafe-%d", (int)getpid());
  snprintf(real, sizeof real, "/tmp/bm6-plugin-unsafe-real-%d", (int)getpid());
  snprintf(victim, sizeof victim, "/tmp/bm6-plugin-unsafe-victim-%d", (int)getpid());
  write_text(victim, VICTIM_TEXT);
  const char *const names[] = {"van", "bus"};
  const char *const addresses[] = {"unix:/nonexistent/van.sock", "unix:/nonexistent/bus.sock"};
  /* The last: "DIR/", through which path resolution would follow the link. */
  enum { kWorldWritable, kGroupWritable, kOtherOwner, kSymlink, kSymlinkSlash, kCases };
  for (int c = 0; c < kCases; c++) {
    if (c == kOtherOwner && geteuid() != 0) continue; /* only root can give a folder away */
    setup(NULL);
    if (c >= kSymlink) {
      assert_int_equal(mkdir(real, 0755), 0);
      assert_int_equal(symlink(real, dir), 0);
    } else {
      assert_int_equal(mkdir(dir, 0755), 0);
      assert_int_equal(chmod(dir, c == kWorldWritable   ? 01777
                                  : c == kGroupWritable ? 0775
                                                        : 0755),
                       0);
      if (c == kOtherOwner) assert_int_equal(chown(dir, 65534, 65534), 0);
      snprintf(file, sizeof file, "%s/van.state", dir);
      assert_int_equal(symlink(victim, file), 0);
    }
    char configured[104];
    snprintf(configured, sizeof configured, "%s%s", dir, c == kSymlinkSlash ? "/" : "");
    oconfig_item_t *block = backfill_block(configured, names, addresses, 2);
    assert_int_equal(config_cb(block), 0);
    free_item(block, 1);
    expect_read("bm6/van", 0);
    expect_read("bm6/bus", 0);
    assert_int_equal(init_cb(), 0);
    for (int r = 0; r < reads_num; r++) assert_int_equal(reads[r].cb(&reads[r].ud), 0);
    assert_int_equal(shutdown_cb(), 0);
    const char *why[] = {"is writable by every user (mode 1777)",
                         "is writable by its group (mode 0775)", "is owned by uid 65534",
                         "is a symbolic link, not a directory",
                         "is a symbolic link, not a directory"};
    snprintf(want, sizeof want, "bm6 plugin: StateDir \"%s\" %s", dir, why[c]);
    if (count_logs(LOG_ERR, want) != 1 || count_logs(-1, "StateDir") != 1) {
      print_logs();
      fail_msg("case %d: expected one line: %s", c, want);
    }
    assert_int_equal(count_logs(-1, "state file"), 0);
    assert_file_text(victim, VICTIM_TEXT);
    if (c >= kSymlink) {
      assert_int_equal(entries(real), 0);
      unlink(dir);
      rmdir(real);
    } else {
      assert_int_equal(entries(dir), 1); /* the planted link alone */
      snprintf(file, sizeof file, "%s/van.state", dir);
      unlink(file);
      rmdir(dir);
    }
  }
  unlink(victim);
}

/* State times the plugin cannot have written: 0, twelve digits of seconds (the year 33658,
 * which nanoseconds since 1970 cannot hold), an hour ahead of the clock. One line each; a
 * time a minute ago is taken without a word. */
static void state_times_out_of_range_are_refused_once_each(void **state) {
  (void)state;
  char dir[96], file[160], text[96];
  snprintf(dir, sizeof dir, "/tmp/bm6-plugin-times-%d", (int)getpid());
  assert_int_equal(mkdir(dir, 0755), 0);
  const char *const names[] = {"zero", "far", "ahead", "fine"};
  const char *const addresses[] = {"unix:/nonexistent/zero.sock", "unix:/nonexistent/far.sock",
                                   "unix:/nonexistent/ahead.sock", "unix:/nonexistent/fine.sock"};
  const long long now = (long long)now_s();
  const long long times[] = {0, 999999999999LL, now + 3600, now - 60};
  for (int i = 0; i < 4; i++) {
    snprintf(file, sizeof file, "%s/%s.state", dir, names[i]);
    snprintf(text, sizeof text, "bm6-collectd state 1\nlast_dispatched %lld.000000000\n", times[i]);
    write_text(file, text);
  }
  oconfig_item_t *block = backfill_block(dir, names, addresses, 4);
  assert_int_equal(config_cb(block), 0);
  free_item(block, 1);
  expect_read("bm6/zero", 0);
  expect_read("bm6/far", 0);
  expect_read("bm6/ahead", 0);
  expect_read("bm6/fine", 0);
  assert_int_equal(init_cb(), 0);
  const char *want[] = {
      "device \"zero\": state file /tmp/bm6-plugin-times-",
      "device \"far\": state file /tmp/bm6-plugin-times-",
      "device \"ahead\": state file /tmp/bm6-plugin-times-",
  };
  expect_each_once(LOG_WARNING, want, 3);
  assert_int_equal(count_logs(LOG_WARNING, "(last_dispatched 0 is before 2024)"), 1);
  assert_int_equal(
      count_logs(LOG_WARNING,
                 "(last_dispatched 999999999999 is more than 5 minutes after the clock)"),
      1);
  assert_int_equal(count_logs(LOG_WARNING, "ahead.state is ignored (last_dispatched 1"), 1);
  assert_int_equal(count_logs(-1, "device \"fine\": state file"), 0);
  assert_int_equal(count_logs(-1, "device \"fine\": no state file"), 0);
  assert_int_equal(shutdown_cb(), 0);
  for (int i = 0; i < 4; i++) {
    snprintf(file, sizeof file, "%s/%s.state", dir, names[i]);
    unlink(file);
  }
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(registers_one_read_per_device_with_its_interval, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(every_config_mistake_gets_its_own_error, setup, teardown),
      cmocka_unit_test_setup_teardown(passive_mode_config_mistakes_are_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(passive_devices_register_reads_and_say_scanner_trouble_once,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(passive_byte_ten_is_no_temperature_by_default, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(passive_temperature_true_dispatches_byte_ten, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(passive_registrations_a_killed_collectd_left_are_removed,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(a_record_no_passive_device_uses_now_is_worked_off, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(passive_temperature_mistakes_name_device_and_option, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(backfill_mistakes_name_the_device_and_option, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(corrupt_state_file_is_said_once_and_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(planted_fifo_and_symlinks_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(unsafe_state_dirs_are_refused_once, setup, teardown),
      cmocka_unit_test_setup_teardown(state_times_out_of_range_are_refused_once_each, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(durations_below_what_a_bm6_does_are_warned_or_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(absurd_durations_are_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(link_budget_mistakes_are_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(more_persistent_devices_than_max_links_names_the_adapter,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(max_links_three_fits_two_persistent_and_a_per_read_device,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(same_address_spelled_differently_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(an_option_or_adapter_block_given_twice_is_an_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(adapter_block_inside_device_and_misplaced_options_are_refused,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(hci00_and_hci0_are_one_adapter, setup, teardown),
      cmocka_unit_test_setup_teardown(a_plugin_level_default_applies_where_it_can, setup, teardown),
      cmocka_unit_test_setup_teardown(limits_print_as_written_and_names_count_bytes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(dispatches_readings_once_and_nothing_stale, setup, teardown),
      cmocka_unit_test_setup_teardown(correction_mistakes_name_device_and_option, setup, teardown),
      cmocka_unit_test_setup_teardown(corrections_apply_to_dispatched_values, setup, teardown),
      cmocka_unit_test_setup_teardown(dead_device_logs_once_and_reads_succeed_empty, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(device_that_comes_back_is_logged_once_each_way, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(flapping_device_is_said_once_each_way, setup, teardown),
      cmocka_unit_test_setup_teardown(a_changed_reason_is_said_once_more, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_thread_start_leaves_no_read_registered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(read_registration_failure_unregisters_the_others, setup,
                                      teardown),
  };
  return cmocka_run_group_tests_name("bm6.so against mocked collectd", tests, load_plugin, NULL);
}
