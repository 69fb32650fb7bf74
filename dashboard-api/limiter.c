/* SPDX-License-Identifier: BSD-2-Clause */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dashboard-api/limiter.h"

struct limiter_slot {
	unsigned char key[LIMITER_KEY_LEN];
	bool used;
	double tokens;
	double at; /* monotonic seconds of the last update */
};

struct limiter {
	pthread_mutex_t lock;
	double burst;
	double per_sec;
	struct limiter_slot slots[LIMITER_SLOTS];
};

struct limiter *limiter_new(unsigned int burst, unsigned int per_minute)
{
	struct limiter *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->burst = burst ? burst : 1;
	l->per_sec = per_minute / 60.0;
	return l;
}

void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the slot of @key (lock held), refilled: found, or a free or the least recently used one */
static struct limiter_slot *slot_of(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN])
{
	double now = now_mono();
	uint32_t h = 2166136261u;
	struct limiter_slot *s, *victim = NULL;

	for (int i = 0; i < LIMITER_KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	/* 8-way probe: a bounded search; a free or the stalest slot makes room */
	for (int i = 0; i < 8; i++) {
		s = &l->slots[(h + (uint32_t)i) % LIMITER_SLOTS];
		if (s->used && !memcmp(s->key, key, LIMITER_KEY_LEN)) {
			s->tokens += (now - s->at) * l->per_sec;
			if (s->tokens > l->burst)
				s->tokens = l->burst;
			s->at = now;
			return s;
		}
		if (!victim || (victim->used && (!s->used || s->at < victim->at)))
			victim = s;
	}
	memcpy(victim->key, key, LIMITER_KEY_LEN);
	victim->used = true;
	victim->tokens = l->burst;
	victim->at = now;
	return victim;
}

/* seconds until @s holds a token (lock held) */
static unsigned int wait_of(const struct limiter *l, const struct limiter_slot *s)
{
	double wait;

	if (s->tokens >= 1)
		return 0;
	wait = l->per_sec > 0 ? (1 - s->tokens) / l->per_sec : 3600;
	return (unsigned int)wait + 1;
}

unsigned int limiter_wait(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN])
{
	unsigned int wait;

	pthread_mutex_lock(&l->lock);
	wait = wait_of(l, slot_of(l, key));
	pthread_mutex_unlock(&l->lock);
	return wait;
}

void limiter_take(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN])
{
	struct limiter_slot *s;

	pthread_mutex_lock(&l->lock);
	s = slot_of(l, key);
	if (s->tokens >= 1)
		s->tokens -= 1;
	pthread_mutex_unlock(&l->lock);
}

unsigned int limiter_acquire(struct limiter *l, const unsigned char key[LIMITER_KEY_LEN])
{
	struct limiter_slot *s;
	unsigned int wait;

	pthread_mutex_lock(&l->lock);
	s = slot_of(l, key);
	wait = wait_of(l, s);
	if (!wait)
		s->tokens -= 1;
	pthread_mutex_unlock(&l->lock);
	return wait;
}
