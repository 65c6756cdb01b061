// The group-rational activation of GR-KAN, differentiated by katjs's autograd.
import { tensor, groupRational, sum, setBackend } from 'katjs';

await setBackend('cpu');
const x = tensor([[-1, 0, 0.5, 2]], [1, 4], { requiresGrad: true });
const numerator = tensor([0, 1, 0, 0, 0, 0], [1, 6], { requiresGrad: true });   // a0..a5, shared by all groups
const denominator = tensor([0, 0, 0, 0, 0, 0.1, 0, 0], [2, 4], { requiresGrad: true }); // b0..b3 per group (G = 2)

const y = groupRational(x, numerator, denominator); // P(x) / (1 + Σ|b_j||x|^(j+1)), groups of D/G channels
sum(y).backward();
console.log('y', Array.from(await y.data()));
console.log('dL/db', Array.from(await denominator.grad.data()));
