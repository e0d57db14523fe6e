import { inject } from 'vitest';

// setupFiles of project `agent-via-socket-proxy`: every Docker client a test builds with
// connectDockerEngine(), and every agent process it spawns, inherits this DOCKER_HOST.
process.env.DOCKER_HOST = inject('socketProxyDockerHost');
