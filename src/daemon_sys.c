/*
 * Privileges and the service manager: placeholder until issue 5 lands.
 */
#include "config.h"

#include "daemon_int.h"

int daemon_priv_drop(struct daemon *d)
{
	return 0;
}

void daemon_sys_ready(struct daemon *d)
{
}

void daemon_sys_stopping(struct daemon *d)
{
}
