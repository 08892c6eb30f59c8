// swarmkit's orchestrator.IsTaskDirty as the `_up-to-date` task filter uses it: is a task still made from its
// service's current TaskTemplate? A change of placement constraints alone leaves a task clean while its node still
// satisfies them. Pure, so that it is tested without a manager.
import type { StoredObject } from '../store/types.js';
import { nodeMatches, parseConstraints } from './constraints.js';
import { compareTemplates, nodeFacts } from './reconcile.js';
import type { NodeRecord } from './types.js';

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function constraintsOf(template: Record<string, unknown>): string[] {
  const c = obj(template.Placement).Constraints;
  return Array.isArray(c) ? (c as string[]) : [];
}

export function isTaskDirty(template: Record<string, unknown>, taskSpec: Record<string, unknown>, node: StoredObject<NodeRecord> | undefined): boolean {
  if (compareTemplates(taskSpec, template) === 'same') return false;
  // IsTaskDirtyPlacementConstraintsOnly: with the task's Placement put back, the rest is equal.
  const placementOnly = compareTemplates(taskSpec, { ...template, Placement: taskSpec.Placement }) === 'same';
  if (placementOnly && node) {
    try {
      return !nodeMatches(parseConstraints(constraintsOf(template)), nodeFacts(node));
    } catch {
      return true;
    }
  }
  return true;
}
