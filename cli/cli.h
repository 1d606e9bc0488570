/* cli.h - shared pieces of the bink command-line client. */
#ifndef BINK_CLI_H
#define BINK_CLI_H

#include <signal.h>
#include <stdio.h>

#include "bink.h"

/* exit statuses (server.md) */
#define CLI_OK 0
#define CLI_ERROR 1  /* the API or the transport failed */
#define CLI_USAGE 2  /* the command line is wrong */

/* Set by SIGINT/SIGTERM while a command waits (updates --follow, webhook
 * listen); the client's transfers are cancelled through it. */
extern volatile sig_atomic_t cli_stop;
void cli_catch_signals(void);

/* Reports a usage error on stderr and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes s to f with control characters (C0, DEL, and C1 encoded in
 * UTF-8) escaped as \xNN / \u00NN, so that text from the
 * server or from a peer cannot drive the terminal. NULL prints "(none)". */
void cli_put_safe(FILE *f, const char *s);

/* `bink webhook listen`: argc/argv start after "listen". */
int cli_webhook_listen(int argc, char **argv, int json_output);

#endif
