#!/usr/bin/env node
import { runLabelsCheck } from './labels-check.js';

process.exitCode = await runLabelsCheck(process.argv.slice(2), process);
