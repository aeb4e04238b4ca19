/**
 * `container`: the app ships as a container image; `ship deploy --version 1.4.2` rolls
 * `<image>:1.4.2` with the built-in deploy-container playbook (playbooks/deploy-container.ts).
 */
import { z } from 'zod';
import { duration } from './fields.js';
import { secretSource } from './secrets.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const containerSchema = z.strictObject({
  engine: z.enum(['docker', 'podman']).optional(),
  image: z
    .string()
    .min(1)
    .regex(/^[a-z0-9][a-z0-9._\-/:]*$/, { message: 'an image reference without a tag, e.g. registry.example.com/acme/shop (the tag is --version)' })
    .refine((image) => !/:[^/]*$/.test(image.replace(/^[^/]*\//, '')), { message: 'leave the tag out: --version names it' }),
  registry: z
    .strictObject({
      server: z.string().min(1),
      username: z.string().min(1),
      password: secretSource,
    })
    .optional(),
  name: z.string().regex(NAME, { message: 'container names are letters, digits, ., _ and -' }),
  run: z
    .strictObject({
      network: z.string().min(1).optional(),
      ports: z.array(z.string().min(1)).default([]),
      volumes: z.array(z.string().min(1)).default([]),
      args: z.array(z.string()).default([]),
      /** What the container runs instead of the image's default command (a worker from the web image). */
      command: z.array(z.string()).min(1, { message: "the command and its arguments, e.g. ['bundle', 'exec', 'sidekiq']; leave it out for the image's own" }).optional(),
    })
    .default({ ports: [], volumes: [], args: [] }),
  stopTimeout: duration.default(30_000),
  keep: z.number().int().min(2, { message: 'keep at least 2 images: the new one and the one to roll back to' }).default(3),
});

export type ContainerConfig = z.output<typeof containerSchema>;
