import type { DescMessage } from '@bufbuild/protobuf';

/**
 * The Confluent message-index path of a message type: its position among the top-level messages
 * of its file, then among the nested messages of each enclosing message (`[0]`: the file's first
 * message). Enums are not counted, nor the synthetic entry messages of `map` fields, as in
 * Confluent's Java serializer, which counts the messages of the parsed `.proto` text.
 */
export function messageIndexes(desc: DescMessage): number[] {
  const path: number[] = [];
  let at: DescMessage = desc;
  for (let parent = at.parent; parent !== undefined; parent = at.parent) {
    path.unshift(parent.nestedMessages.indexOf(at));
    at = parent;
  }
  path.unshift(at.file.messages.indexOf(at));
  return path;
}
