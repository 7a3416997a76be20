import type { Command } from "commander";
import { Context, type Io } from "../context.ts";

/**
 * Turns a command's handler into a commander action: commander calls actions with the
 * arguments, the options and the command last; the handler gets a Context (client, output)
 * built from that command instead of the command itself.
 */
export type Runner = <A extends unknown[]>(handler: (context: Context, ...args: A) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export function runner(io: Io): Runner {
  return (handler) =>
    (...args) => {
      const command = args.at(-1) as Command;
      // Commander's own argument and option parsing decides what A holds; the types cannot see it.
      const untyped = handler as (context: Context, ...rest: unknown[]) => Promise<void>;
      return untyped(new Context(command, io), ...args.slice(0, -1));
    };
}
