import { DStreamError } from '@dstream/core';
import type { GroupDescription } from '../kafka/describeGroup';

/** A write to a group's offsets was refused because the group has active members: a job owns it. */
export class GroupActiveError extends DStreamError {
  readonly group: string;
  readonly members: number;

  constructor(description: GroupDescription) {
    const clients = [...new Set(description.members.map((m) => `${m.clientId}@${m.host.replace(/^\//, '')}`))].join(', ');
    super(
      `consumer group ${description.groupId} has ${description.members.length} active member(s) (${clients}; state ` +
        `${description.state}): a running job owns these offsets and would overwrite or fight this change. ` +
        'Stop the job first, or pass --force if you are sure',
    );
    this.group = description.groupId;
    this.members = description.members.length;
  }
}
