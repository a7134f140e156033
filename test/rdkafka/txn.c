/* A transactional librdkafka producer for Sluice's integration tests,
 * built by TestRdkafkaTransactions when gcc and librdkafka.so.1 exist.
 * Debian ships the library without headers here, so the few functions used
 * are declared below (librdkafka's C API is stable across 1.x and 2.x).
 *
 * usage: txn BROKER TOPIC TRANSACTIONAL_ID
 * commits 10 records ("lr-c-N", partitions 0 and 1), then aborts 5
 * ("lr-a-N", flushed first so they reach the log), and prints "OK" on success. */
#include <stdio.h>
#include <string.h>

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_error_s rd_kafka_error_t;

rd_kafka_conf_t *rd_kafka_conf_new(void);
int rd_kafka_conf_set(rd_kafka_conf_t *, const char *, const char *, char *, size_t);
rd_kafka_t *rd_kafka_new(int type, rd_kafka_conf_t *, char *, size_t);
rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *, const char *, void *);
int rd_kafka_produce(rd_kafka_topic_t *, int partition, int msgflags, void *payload, size_t len,
                     const void *key, size_t keylen, void *opaque);
int rd_kafka_poll(rd_kafka_t *, int timeout_ms);
int rd_kafka_flush(rd_kafka_t *, int timeout_ms);
rd_kafka_error_t *rd_kafka_init_transactions(rd_kafka_t *, int timeout_ms);
rd_kafka_error_t *rd_kafka_begin_transaction(rd_kafka_t *);
rd_kafka_error_t *rd_kafka_commit_transaction(rd_kafka_t *, int timeout_ms);
rd_kafka_error_t *rd_kafka_abort_transaction(rd_kafka_t *, int timeout_ms);
const char *rd_kafka_error_string(const rd_kafka_error_t *);
void rd_kafka_topic_destroy(rd_kafka_topic_t *);
void rd_kafka_destroy(rd_kafka_t *);

#define RD_KAFKA_PRODUCER 0
#define RD_KAFKA_MSG_F_COPY 0x2

static int check(const char *what, rd_kafka_error_t *err) {
	if (err) {
		fprintf(stderr, "%s: %s\n", what, rd_kafka_error_string(err));
		return 1;
	}
	return 0;
}

static int produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *prefix, int n) {
	char buf[64];
	for (int i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof buf, "%s-%d", prefix, i);
		if (rd_kafka_produce(rkt, i % 2, RD_KAFKA_MSG_F_COPY, buf, len, NULL, 0, NULL) != 0) {
			fprintf(stderr, "produce %s failed\n", buf);
			return 1;
		}
		rd_kafka_poll(rk, 0);
	}
	return 0;
}

int main(int argc, char **argv) {
	char errstr[512];
	if (argc != 4) {
		fprintf(stderr, "usage: txn BROKER TOPIC TRANSACTIONAL_ID\n");
		return 2;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != 0 ||
	    rd_kafka_conf_set(conf, "transactional.id", argv[3], errstr, sizeof errstr) != 0) {
		fprintf(stderr, "conf: %s\n", errstr);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "new: %s\n", errstr);
		return 1;
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
	if (check("init", rd_kafka_init_transactions(rk, 30000)) ||
	    check("begin", rd_kafka_begin_transaction(rk)) ||
	    produce(rk, rkt, "lr-c", 10) ||
	    check("commit", rd_kafka_commit_transaction(rk, 30000)) ||
	    check("begin", rd_kafka_begin_transaction(rk)) ||
	    produce(rk, rkt, "lr-a", 5) ||
	    rd_kafka_flush(rk, 30000) != 0 || /* else abort purges them unsent */
	    check("abort", rd_kafka_abort_transaction(rk, 30000)))
		return 1;
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	printf("OK\n");
	return 0;
}
