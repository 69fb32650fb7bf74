// SPDX-License-Identifier: BSD-2-Clause
/*
 * test-stripe.c - the Stripe payment provider (billing/stripe.h) against
 * tests/fake_stripe.py, a fake of Stripe's HTTP API that this test starts on a
 * free port and stops in its group teardown, failures included: what the fake
 * received (form fields, headers, idempotency keys), the outcome each answer
 * is classified into, and that retries after a 500 or a lost answer charge
 * exactly once.
 *
 * The fake is $TG_SRCDIR/tests/fake_stripe.py, TG_SRCDIR defaulting to "."
 * (tests run from the repository root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "billing/stripe.h"

#define FAKE_KEY "sk_test_tollgate"
#define FAKE_START_MS 10000
#define FAKE_STOP_MS 5000

static struct {
	pid_t pid;
	char dir[64];
	char port_file[128];
	char base_url[64];
} fake = { .pid = -1 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- the fake's process ---------------------------------------------------- */

static void stop_fake(void)
{
	long long deadline;
	int status;

	if (fake.pid > 0) {
		kill(fake.pid, SIGTERM);
		deadline = now_ms() + FAKE_STOP_MS;
		while (waitpid(fake.pid, &status, WNOHANG) == 0) {
			if (now_ms() > deadline) {
				kill(fake.pid, SIGKILL);
				waitpid(fake.pid, &status, 0);
				break;
			}
			sleep_ms(20);
		}
		fake.pid = -1;
	}
	if (fake.port_file[0]) {
		unlink(fake.port_file);
		fake.port_file[0] = '\0';
	}
	if (fake.dir[0]) {
		char tmp[sizeof(fake.dir) + 16];

		snprintf(tmp, sizeof(tmp), "%s/port.tmp", fake.dir);
		unlink(tmp);
		rmdir(fake.dir);
		fake.dir[0] = '\0';
	}
}

/* The port in the fake's port file, or 0 while it is not (completely) there. */
static int read_port(void)
{
	char buf[16] = "";
	FILE *f = fopen(fake.port_file, "r");
	char *end;
	long port;

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	errno = 0;
	port = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || port < 1 || port > 65535)
		return 0;
	return (int)port;
}

static int start_fake(void)
{
	const char *srcdir = getenv("TG_SRCDIR");
	char script[4096];
	pid_t parent = getpid();
	long long deadline;
	int port = 0, status;

	if (!srcdir || !*srcdir)
		srcdir = ".";
	snprintf(script, sizeof(script), "%s/tests/fake_stripe.py", srcdir);
	if (access(script, R_OK) < 0) {
		fprintf(stderr,
			"test-stripe: %s: %s (run from the repository root or set "
			"TG_SRCDIR)\n",
			script, strerror(errno));
		return -1;
	}
	snprintf(fake.dir, sizeof(fake.dir), "/tmp/test-stripe.XXXXXX");
	if (!mkdtemp(fake.dir)) {
		fake.dir[0] = '\0';
		return -1;
	}
	snprintf(fake.port_file, sizeof(fake.port_file), "%s/port", fake.dir);

	fake.pid = fork();
	if (fake.pid < 0)
		return -1;
	if (fake.pid == 0) {
		/* the fake dies with this test, even when a crash skips the teardown */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		execlp("python3", "python3", script, "--port", "0", "--port-file", fake.port_file,
		       "--key", FAKE_KEY, (char *)NULL);
		_exit(127);
	}

	deadline = now_ms() + FAKE_START_MS;
	while ((port = read_port()) == 0) {
		if (waitpid(fake.pid, &status, WNOHANG) == fake.pid) {
			fprintf(stderr, "test-stripe: %s exited before listening\n", script);
			fake.pid = -1;
			return -1;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "test-stripe: %s did not listen within %d ms\n", script,
				FAKE_START_MS);
			return -1;
		}
		sleep_ms(20);
	}
	snprintf(fake.base_url, sizeof(fake.base_url), "http://127.0.0.1:%d", port);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if (start_fake() < 0) {
		stop_fake();
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_fake();
	curl_global_cleanup();
	return 0;
}

/* ---- talking to the fake's test endpoints ----------------------------------- */

/* GET or POST (@json not NULL) @path on the fake; its JSON answer. */
static json_t *fake_http(const char *path, const char *json)
{
	struct curl_slist *headers = NULL;
	char url[256], *text = NULL;
	size_t text_len = 0;
	json_error_t jerr;
	json_t *root;
	long status = 0;
	CURL *curl;
	FILE *out;
	CURLcode code;

	snprintf(url, sizeof(url), "%s%s", fake.base_url, path);
	out = open_memstream(&text, &text_len);
	assert_non_null(out);
	curl = curl_easy_init();
	assert_non_null(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (json) {
		headers = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	}
	code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	fclose(out);
	if (code != CURLE_OK || status != 200) {
		free(text);
		fail_msg("fake %s: %s, HTTP %ld", path, curl_easy_strerror(code), status);
	}
	root = json_loads(text, 0, &jerr);
	free(text);
	if (!root)
		fail_msg("fake %s: invalid JSON: %s", path, jerr.text);
	return root;
}

__attribute__((format(printf, 1, 2))) static void fake_control(const char *fmt, ...)
{
	char json[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	json_decref(fake_http("/_control", json));
}

static int reset_fake(void **state)
{
	(void)state;
	fake_control("{\"reset\": true}");
	return 0;
}

static size_t fake_charge_count(void)
{
	json_t *charges = fake_http("/_charges", NULL);
	size_t n;

	assert_true(json_is_array(charges));
	n = json_array_size(charges);
	json_decref(charges);
	return n;
}

static size_t fake_request_count(void)
{
	json_t *requests = fake_http("/_requests", NULL);
	size_t n = json_array_size(requests);

	json_decref(requests);
	return n;
}

/* The last request the fake received; the caller json_decref()s it. */
static json_t *last_request(void)
{
	json_t *requests = fake_http("/_requests", NULL), *req;
	size_t n = json_array_size(requests);

	assert_true(n > 0);
	req = json_incref(json_array_get(requests, n - 1));
	json_decref(requests);
	return req;
}

static const char *get_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("'%s' is not a string", key);
	return json_string_value(v);
}

static const char *header(json_t *req, const char *name)
{
	return get_string(json_object_get(req, "headers"), name);
}

static const char *form(json_t *req, const char *name)
{
	return get_string(json_object_get(req, "form"), name);
}

static size_t form_size(json_t *req)
{
	return json_object_size(json_object_get(req, "form"));
}

/* ---- clients ------------------------------------------------------------------ */

static struct stripe *client(unsigned int timeout_ms)
{
	struct stripe *s = NULL;

	assert_int_equal(stripe_new(fake.base_url, FAKE_KEY, timeout_ms, &s), 0);
	assert_non_null(s);
	return s;
}

static void create_customer(struct stripe *s, const char *key, char id[STRIPE_ID_MAX])
{
	struct stripe_result res;

	assert_int_equal(stripe_create_customer(s, key, "Test Consumer", NULL, "1", &res), 0);
	if (res.outcome != STRIPE_OK)
		fail_msg("customer: %s: %s", stripe_outcome_name(res.outcome), res.message);
	memcpy(id, res.id, STRIPE_ID_MAX);
}

/* ---- customers ------------------------------------------------------------------ */

static void test_create_customer(void **state)
{
	struct stripe_result res, again;
	struct stripe *s = client(5000);
	json_t *req;

	(void)state;
	assert_int_equal(stripe_create_customer(s, "tg-customer-42", "Ada Lovelace",
						"ada@example.com", "42", &res),
			 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_int_equal(res.http_status, 200);
	assert_false(res.replayed);
	assert_true(strncmp(res.id, "cus_", 4) == 0);
	assert_string_equal(res.message, "");
	assert_true(strncmp(res.request_id, "req_", 4) == 0);
	assert_string_equal(res.status, "");
	assert_string_equal(res.payment_method, "");

	req = last_request();
	assert_string_equal(get_string(req, "method"), "POST");
	assert_string_equal(get_string(req, "path"), "/v1/customers");
	assert_string_equal(header(req, "authorization"), "Bearer " FAKE_KEY);
	assert_string_equal(header(req, "idempotency-key"), "tg-customer-42");
	assert_string_equal(header(req, "content-type"), "application/x-www-form-urlencoded");
	assert_string_equal(header(req, "stripe-version"), STRIPE_API_VERSION);
	assert_int_equal(form_size(req), 3);
	assert_string_equal(form(req, "name"), "Ada Lovelace");
	assert_string_equal(form(req, "email"), "ada@example.com");
	assert_string_equal(form(req, "metadata[consumer_id]"), "42");
	json_decref(req);

	/* the same key again (a retry): the same customer, not a second one */
	assert_int_equal(stripe_create_customer(s, "tg-customer-42", "Ada Lovelace",
						"ada@example.com", "42", &again),
			 0);
	assert_int_equal(again.outcome, STRIPE_OK);
	assert_true(again.replayed);
	assert_string_equal(again.id, res.id);

	/* and it can be read back */
	assert_int_equal(stripe_get_customer(s, res.id, &again), 0);
	assert_int_equal(again.outcome, STRIPE_OK);
	assert_string_equal(again.id, res.id);
	assert_string_equal(again.payment_method, "");
	req = last_request();
	assert_string_equal(get_string(req, "method"), "GET");
	assert_true(strcmp(get_string(req, "path"), "/v1/customers/") > 0);
	assert_string_equal(get_string(req, "path") + strlen("/v1/customers/"), res.id);
	assert_null(json_object_get(json_object_get(req, "headers"), "idempotency-key"));
	json_decref(req);
	stripe_free(s);
}

static void test_customer_without_name_and_email(void **state)
{
	struct stripe_result res;
	struct stripe *s = client(5000);
	json_t *req;

	(void)state;
	assert_int_equal(stripe_create_customer(s, "tg-customer-7", NULL, NULL, "7", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	req = last_request();
	assert_int_equal(form_size(req), 1);
	assert_string_equal(form(req, "metadata[consumer_id]"), "7");
	json_decref(req);
	stripe_free(s);
}

static void test_trailing_slash_in_base_url(void **state)
{
	char url[sizeof(fake.base_url) + 2];
	struct stripe_result res;
	struct stripe *s = NULL;
	json_t *req;

	(void)state;
	snprintf(url, sizeof(url), "%s//", fake.base_url);
	assert_int_equal(stripe_new(url, FAKE_KEY, 5000, &s), 0);
	assert_int_equal(stripe_create_customer(s, "k", NULL, NULL, "1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	req = last_request();
	assert_string_equal(get_string(req, "path"), "/v1/customers");
	json_decref(req);
	stripe_free(s);
}

/* ---- charges ---------------------------------------------------------------------- */

static void test_charge_succeeds(void **state)
{
	char cus[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);
	json_t *req, *charges, *ch;

	(void)state;
	create_customer(s, "tg-customer-42", cus);
	assert_int_equal(stripe_charge(s, "tg-invoice-inv_2024-05_42-1", cus, 1234, "EUR",
				       "inv_2024-05_42", &res),
			 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_int_equal(res.http_status, 200);
	assert_false(res.replayed);
	assert_true(strncmp(res.id, "pi_", 3) == 0);
	assert_string_equal(res.status, "succeeded");
	assert_int_equal(res.amount, 1234);
	assert_string_equal(res.currency, "eur");
	assert_true(strncmp(res.payment_method, "pm_", 3) == 0);
	assert_string_equal(res.message, "");
	assert_string_equal(res.decline_code, "");

	req = last_request();
	assert_string_equal(get_string(req, "method"), "POST");
	assert_string_equal(get_string(req, "path"), "/v1/payment_intents");
	assert_string_equal(header(req, "authorization"), "Bearer " FAKE_KEY);
	assert_string_equal(header(req, "idempotency-key"), "tg-invoice-inv_2024-05_42-1");
	assert_string_equal(header(req, "content-type"), "application/x-www-form-urlencoded");
	assert_int_equal(form_size(req), 9);
	assert_string_equal(form(req, "amount"), "1234");
	assert_string_equal(form(req, "currency"), "eur");
	assert_string_equal(form(req, "customer"), cus);
	assert_string_equal(form(req, "confirm"), "true");
	assert_string_equal(form(req, "off_session"), "true");
	assert_string_equal(form(req, "automatic_payment_methods[enabled]"), "true");
	assert_string_equal(form(req, "automatic_payment_methods[allow_redirects]"), "never");
	assert_string_equal(form(req, "description"), "Invoice inv_2024-05_42");
	assert_string_equal(form(req, "metadata[invoice_id]"), "inv_2024-05_42");
	json_decref(req);

	charges = fake_http("/_charges", NULL);
	assert_int_equal(json_array_size(charges), 1);
	ch = json_array_get(charges, 0);
	assert_string_equal(get_string(ch, "payment_intent"), res.id);
	assert_string_equal(get_string(ch, "customer"), cus);
	assert_string_equal(get_string(ch, "currency"), "eur");
	assert_string_equal(get_string(ch, "status"), "succeeded");
	assert_int_equal(json_integer_value(json_object_get(ch, "amount")), 1234);
	json_decref(charges);
	stripe_free(s);
}

static void test_charge_large_amount(void **state)
{
	char cus[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);
	json_t *req;

	(void)state;
	create_customer(s, "c", cus);
	assert_int_equal(stripe_charge(s, "k", cus, 99999999999LL, "jpy", "inv-1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_int_equal(res.amount, 99999999999LL);
	req = last_request();
	assert_string_equal(form(req, "amount"), "99999999999");
	assert_string_equal(form(req, "currency"), "jpy");
	json_decref(req);
	stripe_free(s);
}

static void test_charge_with_payment_method(void **state)
{
	char cus[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);
	json_t *req;

	(void)state;
	create_customer(s, "c", cus);
	fake_control("{\"default_payment_method\": {\"%s\": \"pm_card_visa\"}}", cus);
	assert_int_equal(stripe_get_customer(s, cus, &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_string_equal(res.payment_method, "pm_card_visa");

	assert_int_equal(
		stripe_charge_method(s, "k", cus, res.payment_method, 500, "usd", "inv-9", &res),
		0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_string_equal(res.payment_method, "pm_card_visa");
	req = last_request();
	assert_int_equal(form_size(req), 10);
	assert_string_equal(form(req, "payment_method"), "pm_card_visa");
	json_decref(req);
	stripe_free(s);
}

static void test_charge_declined(void **state)
{
	char cus[STRIPE_ID_MAX], broke[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);

	(void)state;
	create_customer(s, "c1", cus);
	create_customer(s, "c2", broke);
	fake_control("{\"decline_customers\": [\"%s\"]}", cus);
	fake_control("{\"decline_customers\": {\"%s\": \"insufficient_funds\"}}", broke);

	assert_int_equal(stripe_charge(s, "k1", cus, 1000, "eur", "inv-1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_DECLINED);
	assert_int_equal(res.http_status, 402);
	assert_string_equal(res.error_type, "card_error");
	assert_string_equal(res.error_code, "card_declined");
	assert_string_equal(res.decline_code, "generic_decline");
	/* the intent exists, failed: its id is kept for the invoice */
	assert_true(strncmp(res.id, "pi_", 3) == 0);
	assert_string_equal(res.status, "requires_payment_method");
	assert_non_null(strstr(res.message, "POST /v1/payment_intents: HTTP 402"));
	assert_non_null(strstr(res.message, "Your card was declined."));

	assert_int_equal(stripe_charge(s, "k2", broke, 1000, "eur", "inv-2", &res), 0);
	assert_int_equal(res.outcome, STRIPE_DECLINED);
	assert_string_equal(res.decline_code, "insufficient_funds");
	assert_non_null(strstr(res.message, "insufficient_funds"));

	/* a retry of a decline replays the decline: still nothing charged */
	assert_int_equal(stripe_charge(s, "k2", broke, 1000, "eur", "inv-2", &res), 0);
	assert_int_equal(res.outcome, STRIPE_DECLINED);
	assert_true(res.replayed);
	assert_int_equal(fake_charge_count(), 0);

	/* reading the failed intent gives the same verdict */
	assert_int_equal(stripe_get_payment_intent(s, res.id, &res), 0);
	assert_int_equal(res.outcome, STRIPE_DECLINED);
	assert_int_equal(res.http_status, 200);
	assert_string_equal(res.decline_code, "insufficient_funds");
	assert_non_null(strstr(res.message, "requires_payment_method"));
	stripe_free(s);
}

static void test_server_error_then_retry(void **state)
{
	char cus[STRIPE_ID_MAX], pi[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);
	json_t *requests;
	size_t before;

	(void)state;
	create_customer(s, "c", cus);
	before = fake_request_count();
	fake_control("{\"fail_next\": 1}");

	assert_int_equal(stripe_charge(s, "tg-inv-7-1", cus, 700, "usd", "inv-7", &res), 0);
	assert_int_equal(res.outcome, STRIPE_RETRY);
	assert_int_equal(res.http_status, 500);
	assert_string_equal(res.error_type, "api_error");
	assert_string_equal(res.id, "");
	assert_int_equal(fake_charge_count(), 0);

	/* the same key, as the caller must: charged now, and once */
	assert_int_equal(stripe_charge(s, "tg-inv-7-1", cus, 700, "usd", "inv-7", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_false(res.replayed);
	memcpy(pi, res.id, sizeof(pi));
	assert_int_equal(fake_charge_count(), 1);

	/* another retry (the answer above could have been lost too) */
	assert_int_equal(stripe_charge(s, "tg-inv-7-1", cus, 700, "usd", "inv-7", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_true(res.replayed);
	assert_string_equal(res.id, pi);
	assert_int_equal(fake_charge_count(), 1);

	requests = fake_http("/_requests", NULL);
	assert_int_equal(json_array_size(requests), before + 3);
	for (size_t i = before; i < before + 3; i++)
		assert_string_equal(header(json_array_get(requests, i), "idempotency-key"),
				    "tg-inv-7-1");
	json_decref(requests);
	stripe_free(s);
}

static void test_timeout_then_replay(void **state)
{
	char cus[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(300);
	json_t *charges;
	long long t0, deadline;

	(void)state;
	create_customer(s, "c", cus);
	fake_control("{\"timeout_next\": 1, \"sleep_ms\": 2000}");

	t0 = now_ms();
	assert_int_equal(stripe_charge(s, "tg-inv-8-1", cus, 800, "eur", "inv-8", &res), 0);
	assert_true(now_ms() - t0 < 1500);
	assert_int_equal(res.outcome, STRIPE_RETRY);
	assert_int_equal(res.http_status, 0);
	assert_string_equal(res.id, "");
	assert_non_null(strstr(res.message, "POST /v1/payment_intents: "));
	assert_non_null(strstr(res.message, "timed out"));

	/* retried while Stripe still works on the first request: 409, retry later */
	assert_int_equal(stripe_charge(s, "tg-inv-8-1", cus, 800, "eur", "inv-8", &res), 0);
	assert_int_equal(res.outcome, STRIPE_RETRY);
	assert_int_equal(res.http_status, 409);
	assert_string_equal(res.error_type, "idempotency_error");

	/* the lost request completes at Stripe: the customer was charged */
	deadline = now_ms() + 10000;
	while (fake_charge_count() == 0) {
		assert_true(now_ms() < deadline);
		sleep_ms(50);
	}

	/* the retry gets the first request's answer, and charges nothing more */
	assert_int_equal(stripe_charge(s, "tg-inv-8-1", cus, 800, "eur", "inv-8", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_true(res.replayed);
	assert_int_equal(res.http_status, 200);
	charges = fake_http("/_charges", NULL);
	assert_int_equal(json_array_size(charges), 1);
	assert_string_equal(get_string(json_array_get(charges, 0), "payment_intent"), res.id);
	json_decref(charges);
	stripe_free(s);
}

static void test_pending_then_settled(void **state)
{
	char cus[STRIPE_ID_MAX], pi[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);

	(void)state;
	create_customer(s, "c", cus);
	fake_control("{\"processing_customers\": [\"%s\"]}", cus);

	assert_int_equal(stripe_charge(s, "k", cus, 4200, "eur", "inv-42", &res), 0);
	assert_int_equal(res.outcome, STRIPE_PENDING);
	assert_int_equal(res.http_status, 200);
	assert_string_equal(res.status, "processing");
	assert_true(strncmp(res.id, "pi_", 3) == 0);
	assert_non_null(strstr(res.message, "is processing"));
	memcpy(pi, res.id, sizeof(pi));

	assert_int_equal(stripe_get_payment_intent(s, pi, &res), 0);
	assert_int_equal(res.outcome, STRIPE_PENDING);

	fake_control("{\"intent_status\": {\"%s\": \"succeeded\"}}", pi);
	assert_int_equal(stripe_get_payment_intent(s, pi, &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_string_equal(res.id, pi);
	assert_string_equal(res.status, "succeeded");
	assert_int_equal(res.amount, 4200);
	assert_string_equal(res.currency, "eur");

	fake_control("{\"intent_status\": {\"%s\": \"canceled\"}}", pi);
	assert_int_equal(stripe_get_payment_intent(s, pi, &res), 0);
	assert_int_equal(res.outcome, STRIPE_DECLINED);

	fake_control("{\"intent_status\": {\"%s\": \"requires_action\"}}", pi);
	assert_int_equal(stripe_get_payment_intent(s, pi, &res), 0);
	assert_int_equal(res.outcome, STRIPE_PENDING);
	stripe_free(s);
}

/* ---- definitive errors and transport failures -------------------------------------- */

static void test_bad_key(void **state)
{
	struct stripe_result res;
	struct stripe *s = NULL;

	(void)state;
	assert_int_equal(stripe_new(fake.base_url, "sk_test_wrong", 5000, &s), 0);
	assert_int_equal(stripe_create_customer(s, "k", "A", "a@example.com", "1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 401);
	assert_string_equal(res.error_type, "invalid_request_error");
	assert_non_null(strstr(res.message, "POST /v1/customers: HTTP 401"));
	assert_non_null(strstr(res.message, "Invalid API Key"));
	assert_string_equal(res.id, "");

	assert_int_equal(stripe_charge(s, "k2", "cus_x", 100, "eur", "inv-1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 401);
	assert_int_equal(fake_charge_count(), 0);
	stripe_free(s);
}

static void test_unknown_objects(void **state)
{
	struct stripe_result res;
	struct stripe *s = client(5000);

	(void)state;
	assert_int_equal(stripe_charge(s, "k", "cus_missing", 100, "eur", "inv-1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 400);
	assert_string_equal(res.error_code, "resource_missing");
	assert_non_null(strstr(res.message, "No such customer"));

	assert_int_equal(stripe_get_customer(s, "cus_missing", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 404);
	assert_string_equal(res.error_code, "resource_missing");

	assert_int_equal(stripe_get_payment_intent(s, "pi_missing", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 404);
	assert_int_equal(fake_charge_count(), 0);
	stripe_free(s);
}

static void test_key_reused_with_other_body(void **state)
{
	char cus[STRIPE_ID_MAX];
	struct stripe_result res;
	struct stripe *s = client(5000);

	(void)state;
	create_customer(s, "c", cus);
	assert_int_equal(stripe_charge(s, "tg-inv-3-1", cus, 300, "eur", "inv-3", &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	assert_int_equal(stripe_charge(s, "tg-inv-3-1", cus, 301, "eur", "inv-3", &res), 0);
	assert_int_equal(res.outcome, STRIPE_INVALID);
	assert_int_equal(res.http_status, 400);
	assert_string_equal(res.error_type, "idempotency_error");
	assert_int_equal(fake_charge_count(), 1);
	stripe_free(s);
}

static void test_connection_refused(void **state)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	char url[64];
	struct stripe_result res;
	struct stripe *s = NULL;
	int fd;

	(void)state;
	/* a port that is bound but not listening refuses connections */
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(addr.sin_port));

	assert_int_equal(stripe_new(url, FAKE_KEY, 2000, &s), 0);
	assert_int_equal(stripe_create_customer(s, "k", "A", NULL, "1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_RETRY);
	assert_int_equal(res.http_status, 0);
	assert_string_equal(res.id, "");
	assert_non_null(strstr(res.message, "POST /v1/customers: "));

	assert_int_equal(stripe_charge(s, "k2", "cus_x", 100, "eur", "inv-1", &res), 0);
	assert_int_equal(res.outcome, STRIPE_RETRY);
	assert_int_equal(res.http_status, 0);
	stripe_free(s);
	close(fd);
}

/* ---- encoding --------------------------------------------------------------------------- */

static void test_strings_sent_intact(void **state)
{
	static const char name[] = "Zoë & Søn = \"Café\" 100%+1 ☃ a+b";
	static const char email[] = "o'neil+billing@example.com";
	static const char consumer[] = "c=1&d=2 x;y#z?";
	static const char invoice[] = "inv 2024/05 & co=1 €%20";
	char description[128];
	struct stripe_result res;
	struct stripe *s = client(5000);
	const char *body;
	json_t *req;

	(void)state;
	assert_int_equal(stripe_create_customer(s, "k-1", name, email, consumer, &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	req = last_request();
	assert_int_equal(form_size(req), 3);
	assert_string_equal(form(req, "name"), name);
	assert_string_equal(form(req, "email"), email);
	assert_string_equal(form(req, "metadata[consumer_id]"), consumer);
	/* nothing a form decoder would split or turn into a space is sent raw */
	body = get_string(req, "body");
	assert_null(strchr(body, ' '));
	assert_null(strchr(body, '+'));
	assert_int_equal(strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789-._~%&="),
			 strlen(body));
	json_decref(req);

	assert_int_equal(stripe_charge(s, "k-2", res.id, 100, "eur", invoice, &res), 0);
	assert_int_equal(res.outcome, STRIPE_OK);
	req = last_request();
	assert_string_equal(form(req, "metadata[invoice_id]"), invoice);
	snprintf(description, sizeof(description), "Invoice %s", invoice);
	assert_string_equal(form(req, "description"), description);
	json_decref(req);
	stripe_free(s);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static void test_invalid_arguments(void **state)
{
	static const char *const bad_urls[] = {
		"ftp://example.com", "api.stripe.com", "http://", "https:///", "",
	};
	struct stripe_result res, untouched;
	struct stripe *s = client(5000), *sentinel = (struct stripe *)&res, *out;
	char long_field[STRIPE_FIELD_MAX + 2], long_key[STRIPE_IDEMPOTENCY_KEY_MAX + 2];

	(void)state;
	memset(long_field, 'x', sizeof(long_field) - 1);
	long_field[sizeof(long_field) - 1] = '\0';
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	memset(&res, 0xa5, sizeof(res));
	untouched = res;

	/* stripe_new() */
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		out = sentinel;
		assert_int_equal(stripe_new(bad_urls[i], FAKE_KEY, 1000, &out), -EINVAL);
		assert_ptr_equal(out, sentinel);
	}
	out = sentinel;
	assert_int_equal(stripe_new(NULL, FAKE_KEY, 1000, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, NULL, 1000, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, "", 1000, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, "sk_test x", 1000, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, "sk_test\r\nX-Evil: 1", 1000, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, FAKE_KEY, 0, &out), -EINVAL);
	assert_int_equal(stripe_new(fake.base_url, FAKE_KEY, 600001, &out), -EINVAL);
	assert_ptr_equal(out, sentinel);
	assert_int_equal(stripe_new(fake.base_url, FAKE_KEY, 1000, NULL), -EINVAL);

	/* stripe_create_customer() */
	assert_int_equal(stripe_create_customer(NULL, "k", "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, NULL, "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "", "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "a key", "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k\n", "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, long_key, "n", "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", long_field, "e", "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", "n", long_field, "1", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", "n", "e", long_field, &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", "n", "e", NULL, &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", "n", "e", "", &res), -EINVAL);
	assert_int_equal(stripe_create_customer(s, "k", "n", "e", "1", NULL), -EINVAL);

	/* stripe_charge() and stripe_charge_method() */
	assert_int_equal(stripe_charge(NULL, "k", "cus_1", 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, NULL, "cus_1", 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", NULL, 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "", 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1/../x", 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 0, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", -100, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, NULL, "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "eu", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "euro", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "e1r", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "eur", NULL, &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "eur", "", &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "eur", long_field, &res), -EINVAL);
	assert_int_equal(stripe_charge(s, "k", "cus_1", 1, "eur", "i", NULL), -EINVAL);
	assert_int_equal(stripe_charge_method(s, "k", "cus_1", "", 1, "eur", "i", &res), -EINVAL);
	assert_int_equal(stripe_charge_method(s, "k", "cus_1", "pm 1", 1, "eur", "i", &res),
			 -EINVAL);

	/* the lookups */
	assert_int_equal(stripe_get_customer(NULL, "cus_1", &res), -EINVAL);
	assert_int_equal(stripe_get_customer(s, "../v1/x", &res), -EINVAL);
	assert_int_equal(stripe_get_customer(s, "cus_1", NULL), -EINVAL);
	assert_int_equal(stripe_get_payment_intent(s, "pi_1?expand=x", &res), -EINVAL);
	assert_int_equal(stripe_get_payment_intent(s, NULL, &res), -EINVAL);

	/* nothing was sent, nothing was written */
	assert_memory_equal(&res, &untouched, sizeof(res));
	assert_int_equal(fake_request_count(), 0);

	stripe_free(s);
	stripe_free(NULL);
}

static void test_outcome_names(void **state)
{
	(void)state;
	assert_string_equal(stripe_outcome_name(STRIPE_OK), "ok");
	assert_string_equal(stripe_outcome_name(STRIPE_DECLINED), "declined");
	assert_string_equal(stripe_outcome_name(STRIPE_RETRY), "retry");
	assert_string_equal(stripe_outcome_name(STRIPE_INVALID), "invalid");
	assert_string_equal(stripe_outcome_name(STRIPE_PENDING), "pending");
	assert_null(stripe_outcome_name((enum stripe_outcome)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test_setup(test_invalid_arguments, reset_fake),
		cmocka_unit_test_setup(test_create_customer, reset_fake),
		cmocka_unit_test_setup(test_customer_without_name_and_email, reset_fake),
		cmocka_unit_test_setup(test_trailing_slash_in_base_url, reset_fake),
		cmocka_unit_test_setup(test_charge_succeeds, reset_fake),
		cmocka_unit_test_setup(test_charge_large_amount, reset_fake),
		cmocka_unit_test_setup(test_charge_with_payment_method, reset_fake),
		cmocka_unit_test_setup(test_charge_declined, reset_fake),
		cmocka_unit_test_setup(test_server_error_then_retry, reset_fake),
		cmocka_unit_test_setup(test_timeout_then_replay, reset_fake),
		cmocka_unit_test_setup(test_pending_then_settled, reset_fake),
		cmocka_unit_test_setup(test_bad_key, reset_fake),
		cmocka_unit_test_setup(test_unknown_objects, reset_fake),
		cmocka_unit_test_setup(test_key_reused_with_other_body, reset_fake),
		cmocka_unit_test_setup(test_connection_refused, reset_fake),
		cmocka_unit_test_setup(test_strings_sent_intact, reset_fake),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
