/* test_connection.c — connection files: tcp and ipc endpoints, the key, and a
 * clear refusal of each kind of broken file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "connection.h"

static const char *good =
    "{\"shell_port\": 5001, \"iopub_port\": 5002, \"stdin_port\": 5003,"
    " \"control_port\": 5004, \"hb_port\": 5005, \"ip\": \"127.0.0.1\","
    " \"key\": \"a0436f6c-1916-498b-8eb9-e81ab9368e84\", \"transport\": \"tcp\","
    " \"signature_scheme\": \"hmac-sha256\", \"kernel_name\": \"ember\"}";

static void expect_error(const char *text, const char *needle)
{
    ember_connection c;
    char err[512] = "";
    CHECK(ember_connection_parse(text, strlen(text), &c, err, sizeof err) == -1);
    if (!strstr(err, needle))
        fprintf(stderr, "expected \"%s\" in: %s\n", needle, err);
    CHECK(strstr(err, needle) != NULL);
    CHECK(c.key == NULL);
}

int main(void)
{
    ember_connection c;
    char err[512], ep[300];
    CHECK(ember_connection_parse(good, strlen(good), &c, err, sizeof err) == 0);
    CHECK(strcmp(c.transport, "tcp") == 0 && strcmp(c.ip, "127.0.0.1") == 0);
    CHECK(c.ports[EMBER_CH_SHELL] == 5001 && c.ports[EMBER_CH_HB] == 5005);
    CHECK(c.keylen == 36 && memcmp(c.key, "a0436f6c", 8) == 0);
    CHECK(strcmp(c.scheme, "hmac-sha256") == 0);
    CHECK(ember_connection_endpoint(&c, EMBER_CH_CONTROL, ep, sizeof ep) == 0);
    CHECK(strcmp(ep, "tcp://127.0.0.1:5004") == 0);
    CHECK(ember_connection_endpoint(&c, 99, ep, sizeof ep) == -1);
    CHECK(ember_connection_endpoint(&c, EMBER_CH_SHELL, ep, 10) == -1);
    ember_connection_free(&c);

    const char *ipc = "{\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,"
                      "\"hb_port\":5,\"ip\":\"/tmp/kernel-x\",\"key\":\"\",\"transport\":\"ipc\"}";
    CHECK(ember_connection_parse(ipc, strlen(ipc), &c, err, sizeof err) == 0);
    CHECK(c.keylen == 0);
    CHECK(ember_connection_endpoint(&c, EMBER_CH_IOPUB, ep, sizeof ep) == 0);
    CHECK(strcmp(ep, "ipc:///tmp/kernel-x-2") == 0);
    ember_connection_free(&c);

    const char *v6 = "{\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,"
                     "\"hb_port\":5,\"ip\":\"::1\"}";
    CHECK(ember_connection_parse(v6, strlen(v6), &c, err, sizeof err) == 0);
    CHECK(strcmp(c.transport, "tcp") == 0 && c.keylen == 0); /* defaults */
    CHECK(ember_connection_endpoint(&c, EMBER_CH_SHELL, ep, sizeof ep) == 0);
    CHECK(strcmp(ep, "tcp://[::1]:1") == 0);
    ember_connection_free(&c);

    expect_error("", "not valid JSON");
    expect_error("{\"ip\": ", "not valid JSON");
    expect_error("[1, 2]", "JSON object");
    expect_error("{\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,"
                 "\"hb_port\":5}", "\"ip\" is missing");
    expect_error("{\"ip\":\"\",\"shell_port\":1}", "\"ip\" is empty");
    expect_error("{\"ip\":7}", "\"ip\" must be a string");
    expect_error("{\"ip\":\"127.0.0.1\",\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,"
                 "\"hb_port\":5}", "shell_port\" is missing");
    expect_error("{\"ip\":\"127.0.0.1\",\"shell_port\":\"1\"}", "shell_port\" is not an integer");
    expect_error("{\"ip\":\"127.0.0.1\",\"shell_port\":70000}", "not a port number");
    expect_error("{\"ip\":\"127.0.0.1\",\"shell_port\":0}", "not a port number");
    expect_error("{\"ip\":\"127.0.0.1\",\"transport\":\"udp\"}", "transport \"udp\"");
    expect_error("{\"shell_port\":1,\"iopub_port\":2,\"stdin_port\":3,\"control_port\":4,"
                 "\"hb_port\":5,\"ip\":\"h\",\"key\":5}", "\"key\" must be a string");

    /* Files: a missing one, and a good one read back. */
    CHECK(ember_connection_load("/nonexistent/conn.json", &c, err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/conn.json") != NULL);
    char path[] = "/tmp/ember-conn-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, good, strlen(good)) == (ssize_t)strlen(good));
        close(fd);
        CHECK(ember_connection_load(path, &c, err, sizeof err) == 0);
        CHECK(c.ports[EMBER_CH_STDIN] == 5003);
        ember_connection_free(&c);
        FILE *f = fopen(path, "w");
        fputs("{\"ip\": 1}", f);
        fclose(f);
        CHECK(ember_connection_load(path, &c, err, sizeof err) == -1);
        CHECK(strstr(err, path) != NULL && strstr(err, "\"ip\"") != NULL);
        unlink(path);
    }
    return check_report("test_connection");
}
