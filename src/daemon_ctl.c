/*
 * The control socket: placeholder until the control plane lands (issue 5).
 */
#include "config.h"

#include "daemon_int.h"

int daemon_ctl_precheck(struct daemon *d)
{
	return 0;
}

int daemon_ctl_open(struct daemon *d)
{
	return 0;
}

int daemon_ctl_attach(struct daemon *d)
{
	return 0;
}

void daemon_ctl_close(struct daemon *d)
{
}
